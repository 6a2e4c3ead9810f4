/* SPDX-License-Identifier: Apache-2.0 */
/* Frontend map: a service address (VIP, port, protocol) to the service it names. */
#ifndef MOCKET_FRONTEND_H
#define MOCKET_FRONTEND_H

#include "common.h"

struct mk_frontend_key {
	__u32 addr[4];	/* VIP, 16-byte form (see common.h) */
	__u16 port;	/* network order */
	__u8 proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;	/* zero */
};

struct mk_frontend_value {
	__u32 service_id;	/* key of the service map; 0 is never used */
};

/*
 * Not preallocated: an update replaces the element instead of copying over
 * it, so a program never reads a half-written entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MK_MAX_FRONTENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mk_frontend_key);
	__type(value, struct mk_frontend_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mk_frontend SEC(".maps");

#endif
