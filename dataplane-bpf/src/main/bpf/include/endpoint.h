/* SPDX-License-Identifier: Apache-2.0 */
/* Endpoint map: slot of a service's backend set (per revision and priority) to a backend. */
#ifndef MOCKET_ENDPOINT_H
#define MOCKET_ENDPOINT_H

#include "common.h"

struct mk_endpoint_key {
	__u32 service_id;
	__u32 revision;
	__u32 priority;	/* 0..MK_PRIORITIES-1 */
	__u32 slot;	/* 0..count[priority]-1 */
};

struct mk_endpoint_value {
	__u32 backend_id;
	__u16 port;	/* target port, network order; 0 keeps the dialled port */
	__u16 pad;	/* zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MK_MAX_ENDPOINTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mk_endpoint_key);
	__type(value, struct mk_endpoint_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mk_endpoint SEC(".maps");

#endif
