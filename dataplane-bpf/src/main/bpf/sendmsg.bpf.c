/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup sendmsg hooks: each datagram of an unconnected UDP socket (DNS to a
 * VIP) is sent to a backend; recvmsg restores the VIP on the replies.
 */
#include "lb.h"

SEC("cgroup/sendmsg4")
int mk_sendmsg4(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_UDP)
		return MK_ALLOW;
	return mk_balance4(ctx, 0);
}

SEC("cgroup/sendmsg6")
int mk_sendmsg6(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_UDP)
		return MK_ALLOW;
	return mk_balance6(ctx, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
