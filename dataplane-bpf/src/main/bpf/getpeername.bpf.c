/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup getpeername hooks: an application sees the VIP it dialled, not the
 * backend. Only connected sockets have a peer, so only their storage is asked.
 */
#include "revnat.h"

SEC("cgroup/getpeername4")
int mk_getpeername4(struct bpf_sock_addr *ctx)
{
	mk_revnat_restore4(ctx, 0);
	return MK_ALLOW;	/* getpeername programs must return 1 */
}

SEC("cgroup/getpeername6")
int mk_getpeername6(struct bpf_sock_addr *ctx)
{
	mk_revnat_restore6(ctx, 0);
	return MK_ALLOW;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
