/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reverse NAT map: per socket and backend, the VIP the application dialled.
 *
 * The rewrite happens once, at connect or sendmsg; afterwards the kernel only
 * knows the backend. recvmsg (replies to unconnected UDP) and getpeername put
 * the VIP back so the application sees the address it used. The backend is
 * part of the key because one unconnected UDP socket may talk to several VIPs.
 * LRU: entries of closed UDP sockets age out; sockops removes TCP ones on close.
 */
#ifndef MOCKET_REVNAT_H
#define MOCKET_REVNAT_H

#include "common.h"

struct mk_revnat_key {
	__u64 cookie;		/* bpf_get_socket_cookie */
	__u32 addr[4];		/* backend, 16-byte form */
	__u16 port;		/* backend port, network order */
	__u16 pad;		/* zero */
	__u32 pad2;		/* zero */
};

struct mk_revnat_value {
	__u32 addr[4];		/* VIP, 16-byte form */
	__u16 port;		/* VIP port, network order */
	__u16 pad;		/* zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MK_MAX_REVNAT);
	__type(key, struct mk_revnat_key);
	__type(value, struct mk_revnat_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mk_revnat SEC(".maps");

static __always_inline void mk_revnat_key_init(struct mk_revnat_key *key, __u64 cookie,
					       const __u32 addr[4], __u16 port)
{
	key->cookie = cookie;
	mk_addr_copy(key->addr, addr);
	key->port = port;
	key->pad = 0;
	key->pad2 = 0;
}

/* Looks up the VIP behind a peer address of this socket; NULL when it was not rewritten. */
static __always_inline struct mk_revnat_value *mk_revnat_find(struct bpf_sock_addr *ctx,
							      const __u32 peer[4], __u16 port)
{
	struct mk_revnat_key key;

	mk_revnat_key_init(&key, bpf_get_socket_cookie(ctx), peer, port);
	return bpf_map_lookup_elem(&mk_revnat, &key);
}

/* Puts the VIP back into an IPv4 peer address (recvmsg4, getpeername4). */
static __always_inline void mk_revnat_restore4(struct bpf_sock_addr *ctx)
{
	struct mk_revnat_value *vip;
	__u32 peer[4];

	mk_addr_from_v4(peer, ctx->user_ip4);
	vip = mk_revnat_find(ctx, peer, (__u16)ctx->user_port);
	if (vip && mk_addr_is_v4(vip->addr)) {
		ctx->user_ip4 = vip->addr[3];
		ctx->user_port = vip->port;
	}
}

/* Puts the VIP back into an IPv6 or IPv4-mapped peer address (recvmsg6, getpeername6). */
static __always_inline void mk_revnat_restore6(struct bpf_sock_addr *ctx)
{
	struct mk_revnat_value *vip;
	__u32 peer[4];

	peer[0] = ctx->user_ip6[0];
	peer[1] = ctx->user_ip6[1];
	peer[2] = ctx->user_ip6[2];
	peer[3] = ctx->user_ip6[3];
	vip = mk_revnat_find(ctx, peer, (__u16)ctx->user_port);
	if (vip && mk_addr_is_v4(vip->addr) == mk_addr_is_v4(peer)) {
		ctx->user_ip6[0] = vip->addr[0];
		ctx->user_ip6[1] = vip->addr[1];
		ctx->user_ip6[2] = vip->addr[2];
		ctx->user_ip6[3] = vip->addr[3];
		ctx->user_port = vip->port;
	}
}

#endif
