/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Connection metrics map, written by sockops: one entry per TCP socket of the
 * attached cgroup, keyed by socket cookie. The agent reads it, exports closed
 * connections and deletes them; LRU keeps it bounded if the agent is away.
 */
#ifndef MOCKET_CONNECTION_H
#define MOCKET_CONNECTION_H

#include "common.h"

#define MK_CONN_ACTIVE  1	/* this socket connected out */
#define MK_CONN_PASSIVE 2	/* this socket was accepted */

struct mk_connection {
	__u64 opened_ns;	/* bpf_ktime_get_ns at establishment */
	__u64 closed_ns;	/* 0 while open */
	__u64 bytes_sent;	/* tcpi_bytes_acked: sequence space, so SYN and FIN count 1 each */
	__u64 bytes_received;	/* tcpi_bytes_received: the peer's FIN counts 1 */
	__u32 local_addr[4];	/* 16-byte form */
	__u32 remote_addr[4];	/* 16-byte form; the backend for a VIP connection */
	__u16 local_port;	/* network order */
	__u16 remote_port;	/* network order */
	__u32 service_id;	/* service of the VIP dialled, 0 if none */
	__u8 direction;		/* MK_CONN_* */
	__u8 state;		/* last BPF_TCP_* state seen */
	__u16 pad;		/* zero */
	__u32 pad2;		/* zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MK_MAX_CONNECTIONS);
	__type(key, __u64);	/* socket cookie */
	__type(value, struct mk_connection);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} mk_connection SEC(".maps");

#endif
