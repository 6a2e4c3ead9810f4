/* SPDX-License-Identifier: Apache-2.0 */
/* cgroup connect hooks: TCP and connected UDP to a VIP go straight to a backend. */
#include "lb.h"

SEC("cgroup/connect4")
int mk_connect4(struct bpf_sock_addr *ctx)
{
	if (!mk_is_l4_balanced(ctx))
		return MK_ALLOW;
	return mk_balance4(ctx, 1);
}

SEC("cgroup/connect6")
int mk_connect6(struct bpf_sock_addr *ctx)
{
	if (!mk_is_l4_balanced(ctx))
		return MK_ALLOW;
	return mk_balance6(ctx, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
