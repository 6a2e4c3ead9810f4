/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Socket map: state that lives and dies with one socket (socket-local storage,
 * kernel 5.2+; reachable from cgroup sock_addr and sockops programs).
 *
 * connect writes the VIP it replaced and the backend it chose, so getpeername
 * (and recvmsg of a connected UDP socket) can show the VIP again, and sockops
 * can attribute the connection to the service. sockops marks a client socket at
 * establishment (accepted sockets get no storage), so the close callback knows
 * which counters to add to. Nothing
 * is inserted into or deleted from a hash table per connection: the kernel frees
 * the storage with the socket.
 */
#ifndef MOCKET_SOCKET_H
#define MOCKET_SOCKET_H
#include "common.h"

struct mk_socket {
	__u32 vip_addr[4];	/* VIP dialled, 16-byte form; zero if connect saw no VIP */
	__u32 backend_addr[4];	/* backend connect chose, 16-byte form */
	__u16 vip_port;		/* network order; 0 if connect saw no VIP */
	__u16 backend_port;	/* network order */
	__u32 service_id;	/* service of the VIP, 0 if none */
	__u8 direction;		/* MK_CONN_ACTIVE once counted as opened, 0 before and after the close */
	__u8 pad;		/* zero */
	__u16 pad2;		/* zero */
	__u32 pad3;		/* zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* required for socket storage */
	__type(key, int);	/* a socket fd, from user space only */
	__type(value, struct mk_socket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mk_socket SEC(".maps");

/* The socket's state, or NULL when no program stored any for it. */
static __always_inline struct mk_socket *mk_socket_find(struct bpf_sock *sk)
{
	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&mk_socket, sk, NULL, 0);
}

/* The socket's state, created zeroed if missing; NULL only if the kernel cannot allocate it. */
static __always_inline struct mk_socket *mk_socket_get(struct bpf_sock *sk)
{
	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&mk_socket, sk, NULL, BPF_SK_STORAGE_GET_F_CREATE);
}

/* The VIP behind a peer address of this socket, or NULL when connect did not rewrite it to that peer. */
static __always_inline struct mk_socket *mk_socket_vip(struct bpf_sock *sk, const __u32 peer[4], __u16 port)
{
	struct mk_socket *st = mk_socket_find(sk);

	if (!st || !st->vip_port || st->backend_port != port)
		return NULL;
	if (st->backend_addr[0] != peer[0] || st->backend_addr[1] != peer[1] ||
	    st->backend_addr[2] != peer[2] || st->backend_addr[3] != peer[3])
		return NULL;
	return st;
}
#endif
