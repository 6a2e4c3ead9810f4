/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup recvmsg hooks: replies from a backend appear to come from the VIP the
 * datagram was sent to (connected UDP: the socket's storage; unconnected: the
 * reverse NAT map).
 */
#include "revnat.h"

SEC("cgroup/recvmsg4")
int mk_recvmsg4(struct bpf_sock_addr *ctx)
{
	mk_revnat_restore4(ctx, 1);
	return MK_ALLOW;	/* recvmsg programs must return 1 */
}

SEC("cgroup/recvmsg6")
int mk_recvmsg6(struct bpf_sock_addr *ctx)
{
	mk_revnat_restore6(ctx, 1);
	return MK_ALLOW;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
