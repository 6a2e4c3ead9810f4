/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection counters, written by sockops: per direction, service and address
 * pair, how many TCP connections opened and closed and the bytes of the closed
 * ones. Per-CPU, so a callback adds to its own CPU's copy without contention;
 * the agent sums the copies. One element per peer pair, not per connection:
 * short connections cost no insert and no delete, and nothing grows while the
 * agent is away. The agent deletes elements that stayed idle and balanced.
 */
#ifndef MOCKET_CONNECTION_H
#define MOCKET_CONNECTION_H
#include "common.h"

#define MK_CONN_ACTIVE  1	/* this socket connected out */
#define MK_CONN_PASSIVE 2	/* this socket was accepted */

struct mk_connection_key {
	__u32 local_addr[4];	/* 16-byte form */
	__u32 remote_addr[4];	/* 16-byte form; the backend for a VIP connection */
	__u32 service_id;	/* service of the VIP dialled, 0 if none (always 0 when accepted) */
	__u8 direction;		/* MK_CONN_* */
	__u8 pad;		/* zero */
	__u16 pad2;		/* zero */
};

struct mk_connection_totals {
	__u64 opened;		/* connections that reached ESTABLISHED */
	__u64 closed;		/* connections that reached CLOSE after that */
	__u64 bytes_sent;	/* sum of tcpi_bytes_acked at CLOSE: sequence space, SYN and FIN count 1 */
	__u64 bytes_received;	/* sum of tcpi_bytes_received at CLOSE: the peer's FIN counts 1 */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, MK_MAX_CONNECTIONS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mk_connection_key);
	__type(value, struct mk_connection_totals);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mk_connection SEC(".maps");
#endif
