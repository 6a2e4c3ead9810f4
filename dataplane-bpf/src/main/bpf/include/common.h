/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared definitions of the Mocket socket load balancer.
 *
 * Every address in a map is 16 bytes in network order: IPv6 as is, IPv4 as an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d). One form lets connect4 and a
 * dual-stack socket's connect6 (which sees ::ffff:VIP) find the same entry.
 * Ports are stored in network order, as the kernel hands them to the hooks.
 */
#ifndef MOCKET_COMMON_H
#define MOCKET_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

/* Return codes of cgroup sock_addr programs: 1 lets the call go on, 0 rejects it. */
#define MK_ALLOW  1
#define MK_REJECT 0

/* Locality priorities per service: 0 is the most local (Istio routing preference). */
#define MK_PRIORITIES 7

#define MK_MAX_FRONTENDS   65536
#define MK_MAX_SERVICES    65536
#define MK_MAX_ENDPOINTS   262144
#define MK_MAX_BACKENDS    131072
#define MK_MAX_REVNAT      131072
#define MK_MAX_CONNECTIONS 65536

static __always_inline void mk_addr_from_v4(__u32 addr[4], __u32 ip4)
{
	addr[0] = 0;
	addr[1] = 0;
	addr[2] = bpf_htonl(0x0000ffff);
	addr[3] = ip4;
}

static __always_inline int mk_addr_is_v4(const __u32 addr[4])
{
	return addr[0] == 0 && addr[1] == 0 && addr[2] == bpf_htonl(0x0000ffff);
}

static __always_inline void mk_addr_copy(__u32 dst[4], const __u32 src[4])
{
	dst[0] = src[0];
	dst[1] = src[1];
	dst[2] = src[2];
	dst[3] = src[3];
}

/*
 * Reject a socket call with ECONNREFUSED, the error an application expects
 * from a service with nothing listening. bpf_set_retval exists from kernel 5.18;
 * on older kernels the branch is removed at load and the caller sees EPERM.
 */
static __always_inline int mk_refuse(void)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_set_retval))
		bpf_set_retval(-ECONNREFUSED);
	return MK_REJECT;
}

#endif
