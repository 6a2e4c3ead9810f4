/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reverse NAT map: per unconnected UDP socket and backend, the VIP the
 * application sent to.
 *
 * The rewrite happens once, at connect or sendmsg; afterwards the kernel only
 * knows the backend. recvmsg and getpeername put the VIP back so the
 * application sees the address it used. A connected socket keeps its VIP in its
 * own storage (socket.h). sendmsg of an unconnected UDP socket writes here: the
 * backend is part of the key because one such socket may talk to several VIPs.
 * LRU: entries of closed UDP sockets age out.
 */
#ifndef MOCKET_REVNAT_H
#define MOCKET_REVNAT_H

#include "common.h"
#include "socket.h"

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

/*
 * The VIP behind a peer address of this socket, written to vip/port; 0 when the
 * peer was not rewritten. The socket's own storage answers for a connected
 * socket; with_revnat also asks the reverse NAT map (recvmsg of unconnected UDP).
 */
static __always_inline int mk_vip_of(struct bpf_sock_addr *ctx, const __u32 peer[4], __u16 port,
				     int with_revnat, __u32 vip[4], __u16 *vip_port)
{
	struct mk_socket *st = mk_socket_vip(ctx->sk, peer, port);

	if (st) {
		mk_addr_copy(vip, st->vip_addr);
		*vip_port = st->vip_port;
		return 1;
	}
	if (with_revnat) {
		struct mk_revnat_value *rv;
		struct mk_revnat_key key;

		mk_revnat_key_init(&key, bpf_get_socket_cookie(ctx), peer, port);
		rv = bpf_map_lookup_elem(&mk_revnat, &key);
		if (rv) {
			mk_addr_copy(vip, rv->addr);
			*vip_port = rv->port;
			return 1;
		}
	}
	return 0;
}

/* Puts the VIP back into an IPv4 peer address (recvmsg4, getpeername4). */
static __always_inline void mk_revnat_restore4(struct bpf_sock_addr *ctx, int with_revnat)
{
	__u32 peer[4], vip[4];
	__u16 vip_port;

	mk_addr_from_v4(peer, ctx->user_ip4);
	if (mk_vip_of(ctx, peer, (__u16)ctx->user_port, with_revnat, vip, &vip_port) && mk_addr_is_v4(vip)) {
		ctx->user_ip4 = vip[3];
		ctx->user_port = vip_port;
	}
}

/* Puts the VIP back into an IPv6 or IPv4-mapped peer address (recvmsg6, getpeername6). */
static __always_inline void mk_revnat_restore6(struct bpf_sock_addr *ctx, int with_revnat)
{
	__u32 peer[4], vip[4];
	__u16 vip_port;

	peer[0] = ctx->user_ip6[0];
	peer[1] = ctx->user_ip6[1];
	peer[2] = ctx->user_ip6[2];
	peer[3] = ctx->user_ip6[3];
	if (mk_vip_of(ctx, peer, (__u16)ctx->user_port, with_revnat, vip, &vip_port)
	    && mk_addr_is_v4(vip) == mk_addr_is_v4(peer)) {
		ctx->user_ip6[0] = vip[0];
		ctx->user_ip6[1] = vip[1];
		ctx->user_ip6[2] = vip[2];
		ctx->user_ip6[3] = vip[3];
		ctx->user_port = vip_port;
	}
}
#endif
