/* SPDX-License-Identifier: Apache-2.0 */
/* Backend map: backend id (one workload address) to its address. */
#ifndef MOCKET_BACKEND_H
#define MOCKET_BACKEND_H

#include "common.h"

#define MK_BACKEND_HEALTHY 0x1

struct mk_backend_value {
	__u32 addr[4];	/* 16-byte form (see common.h) */
	__u32 flags;	/* MK_BACKEND_*, informational for the kernel */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MK_MAX_BACKENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);	/* backend id */
	__type(value, struct mk_backend_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mk_backend SEC(".maps");

#endif
