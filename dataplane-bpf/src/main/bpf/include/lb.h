/* SPDX-License-Identifier: Apache-2.0 */
/* Backend selection shared by the connect and sendmsg hooks. */
#ifndef MOCKET_LB_H
#define MOCKET_LB_H

#include "common.h"
#include "frontend.h"
#include "service.h"
#include "endpoint.h"
#include "backend.h"
#include "revnat.h"
#include "socket.h"

#define MK_PICKED        0
#define MK_NOT_FRONTEND  1	/* not a VIP: leave the call alone */
#define MK_NO_BACKEND    2	/* a VIP without a usable backend: refuse */

struct mk_pick {
	__u32 addr[4];
	__u16 port;
	__u32 service_id;
};

static __always_inline int mk_pick_priority(const struct mk_service_value *svc)
{
	if (svc->lb_mode != MK_LB_FAILOVER)
		return svc->count[0] ? 0 : -1;
#pragma unroll
	for (int prio = 0; prio < MK_PRIORITIES; prio++) {
		if (svc->count[prio])
			return prio;
	}
	return -1;
}

/*
 * Picks a backend for a frontend at random among the chosen priority.
 *
 * Two attempts: the service entry may be replaced between reading it and
 * reading its endpoint slot (the agent deletes the old revision's slots right
 * after the switch). The second read sees the new revision. Every slot that
 * is found belongs to this service, old or new set, so a race never picks a
 * foreign backend.
 */
static __always_inline int mk_pick_backend(const struct mk_frontend_key *fkey, struct mk_pick *out)
{
	struct mk_frontend_value *fe;
	__u32 service_id;

	fe = bpf_map_lookup_elem(&mk_frontend, fkey);
	if (!fe)
		return MK_NOT_FRONTEND;
	service_id = fe->service_id;

#pragma unroll
	for (int attempt = 0; attempt < 2; attempt++) {
		struct mk_service_value *svc;
		struct mk_endpoint_value *ep;
		struct mk_backend_value *be;
		struct mk_endpoint_key ekey;
		__u32 count;
		int prio;

		svc = bpf_map_lookup_elem(&mk_service, &service_id);
		if (!svc)
			return MK_NO_BACKEND;
		prio = mk_pick_priority(svc);
		if (prio < 0 || prio >= MK_PRIORITIES)
			return MK_NO_BACKEND;
		count = svc->count[prio];
		if (!count)
			return MK_NO_BACKEND;

		ekey.service_id = service_id;
		ekey.revision = svc->revision;
		ekey.priority = prio;
		ekey.slot = bpf_get_prandom_u32() % count;
		ep = bpf_map_lookup_elem(&mk_endpoint, &ekey);
		if (!ep)
			continue;
		be = bpf_map_lookup_elem(&mk_backend, &ep->backend_id);
		if (!be)
			continue;
		mk_addr_copy(out->addr, be->addr);
		out->port = ep->port ? ep->port : fkey->port;
		out->service_id = service_id;
		return MK_PICKED;
	}
	return MK_NO_BACKEND;
}

/*
 * Remembers the VIP behind the backend this socket now talks to. A connected
 * socket (connect) has one peer, so its own storage holds it; an unconnected UDP
 * socket (sendmsg) may talk to many VIPs, so it needs the reverse NAT map keyed
 * by cookie and backend.
 */
static __always_inline void mk_remember(struct bpf_sock_addr *ctx, const struct mk_pick *pick,
					const struct mk_frontend_key *fkey, int connected)
{
	if (connected) {
		struct mk_socket *st = mk_socket_get(ctx->sk);

		if (!st)
			return;	/* no memory: getpeername shows the backend, the connection still works */
		mk_addr_copy(st->vip_addr, fkey->addr);
		mk_addr_copy(st->backend_addr, pick->addr);
		st->vip_port = fkey->port;
		st->backend_port = pick->port;
		st->service_id = pick->service_id;
		return;
	}
	struct mk_revnat_value vip = {};
	struct mk_revnat_key key;

	mk_revnat_key_init(&key, bpf_get_socket_cookie(ctx), pick->addr, pick->port);
	mk_addr_copy(vip.addr, fkey->addr);
	vip.port = fkey->port;
	bpf_map_update_elem(&mk_revnat, &key, &vip, BPF_ANY);
}

/*
 * Rewrites the destination of an IPv4 socket call when it names a VIP.
 * connected: 1 from connect, 0 from sendmsg. Returns the program's verdict.
 */
static __always_inline int mk_balance4(struct bpf_sock_addr *ctx, int connected)
{
	struct mk_frontend_key fkey = {};
	struct mk_pick pick;
	int rc;

	mk_addr_from_v4(fkey.addr, ctx->user_ip4);
	fkey.port = (__u16)ctx->user_port;
	fkey.proto = (__u8)ctx->protocol;
	rc = mk_pick_backend(&fkey, &pick);
	if (rc == MK_NOT_FRONTEND)
		return MK_ALLOW;
	/* An IPv6 backend cannot serve an AF_INET socket. */
	if (rc != MK_PICKED || !mk_addr_is_v4(pick.addr))
		return mk_refuse();
	ctx->user_ip4 = pick.addr[3];
	ctx->user_port = pick.port;
	mk_remember(ctx, &pick, &fkey, connected);
	return MK_ALLOW;
}

/*
 * Same for an AF_INET6 socket. A dual-stack socket (Java's default) dialling
 * an IPv4 VIP passes ::ffff:VIP here and never reaches connect4, so the
 * 16-byte form finds the IPv4 frontend and the backend is written back in
 * mapped form, which the kernel then connects as IPv4.
 */
static __always_inline int mk_balance6(struct bpf_sock_addr *ctx, int connected)
{
	struct mk_frontend_key fkey = {};
	struct mk_pick pick;
	int rc;

	fkey.addr[0] = ctx->user_ip6[0];
	fkey.addr[1] = ctx->user_ip6[1];
	fkey.addr[2] = ctx->user_ip6[2];
	fkey.addr[3] = ctx->user_ip6[3];
	fkey.port = (__u16)ctx->user_port;
	fkey.proto = (__u8)ctx->protocol;
	rc = mk_pick_backend(&fkey, &pick);
	if (rc == MK_NOT_FRONTEND)
		return MK_ALLOW;
	/* Keep the family the application chose: mapped stays mapped, native stays native. */
	if (rc != MK_PICKED || mk_addr_is_v4(pick.addr) != mk_addr_is_v4(fkey.addr))
		return mk_refuse();
	ctx->user_ip6[0] = pick.addr[0];
	ctx->user_ip6[1] = pick.addr[1];
	ctx->user_ip6[2] = pick.addr[2];
	ctx->user_ip6[3] = pick.addr[3];
	ctx->user_port = pick.port;
	mk_remember(ctx, &pick, &fkey, connected);
	return MK_ALLOW;
}

static __always_inline int mk_is_l4_balanced(struct bpf_sock_addr *ctx)
{
	return ctx->protocol == IPPROTO_TCP || ctx->protocol == IPPROTO_UDP;
}

#endif
