/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service map: one entry per service port and address family, naming the
 * endpoint revision in force and how many backends each locality priority has.
 *
 * The agent switches a backend set atomically: it writes every endpoint slot
 * of a new revision first, then replaces this entry (one map update), then
 * deletes the slots of the old revision. A program that read the old entry
 * and then misses an old slot reads the service again (see lb.h).
 */
#ifndef MOCKET_SERVICE_H
#define MOCKET_SERVICE_H

#include "common.h"

/* Values of Istio's LoadBalancing.Mode. */
#define MK_LB_UNSPECIFIED 0	/* all backends at priority 0, random choice */
#define MK_LB_STRICT      1	/* priority 0 only; none there means refuse */
#define MK_LB_FAILOVER    2	/* the first priority that has backends */

/* Values of Istio's LoadBalancing.HealthPolicy; the agent fills the slots accordingly. */
#define MK_HEALTH_ONLY_HEALTHY 0
#define MK_HEALTH_ALLOW_ALL    1

struct mk_service_value {
	__u32 revision;			/* endpoint keys of this revision are live */
	__u32 count[MK_PRIORITIES];	/* backends per priority, slots 0..count-1 */
	__u8 lb_mode;			/* MK_LB_* */
	__u8 health_policy;		/* MK_HEALTH_*, informational for the kernel */
	__u16 flags;			/* reserved, zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MK_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);	/* service id */
	__type(value, struct mk_service_value);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mk_service SEC(".maps");

#endif
