/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sockops hook: connection counters of the TCP sockets in the cgroup.
 *
 * Two callbacks per connection do all the work: establishment adds one opened
 * connection to the counters of its direction, service and address pair and
 * asks for state callbacks; the move to CLOSE adds one closed connection and
 * its final byte counts. Every other state change returns at once.
 *
 * The first callback has to tell the second which side the socket is. A client
 * socket that dialled a VIP already has its own storage (written by connect,
 * with the service); sockops marks it active there, creating the storage for a
 * client socket that dialled no VIP. An accepted socket gets no storage at all:
 * at CLOSE, no storage means accepted. So the server side of a connection costs
 * no allocation, and the client side of a VIP connection none beyond connect's.
 */
#include "socket.h"
#include "connection.h"

/*
 * Reads a context field where it stands. Without the barrier clang may merge the loads of both branches
 * into one load through a computed ctx pointer, which the verifier rejects ("modified ctx ptr").
 */
#define MK_CTX_READ(field) ({ __u32 __v = (field); asm volatile("" : "+r"(__v)); __v; })

static __always_inline void mk_connection_key_init(struct bpf_sock_ops *skops, __u8 direction, __u32 service_id,
						   struct mk_connection_key *key)
{
	if (MK_CTX_READ(skops->family) == 2 /* AF_INET */) {
		mk_addr_from_v4(key->local_addr, MK_CTX_READ(skops->local_ip4));
		mk_addr_from_v4(key->remote_addr, MK_CTX_READ(skops->remote_ip4));
	} else {
		key->local_addr[0] = MK_CTX_READ(skops->local_ip6[0]);
		key->local_addr[1] = MK_CTX_READ(skops->local_ip6[1]);
		key->local_addr[2] = MK_CTX_READ(skops->local_ip6[2]);
		key->local_addr[3] = MK_CTX_READ(skops->local_ip6[3]);
		key->remote_addr[0] = MK_CTX_READ(skops->remote_ip6[0]);
		key->remote_addr[1] = MK_CTX_READ(skops->remote_ip6[1]);
		key->remote_addr[2] = MK_CTX_READ(skops->remote_ip6[2]);
		key->remote_addr[3] = MK_CTX_READ(skops->remote_ip6[3]);
	}
	key->service_id = service_id;
	key->direction = direction;
	key->pad = 0;
	key->pad2 = 0;
}

/*
 * Adds to this CPU's copy of the key's counters, creating the element if needed. Atomic adds: a
 * softirq may interrupt a callback of the same CPU that runs in process context.
 */
static __always_inline void mk_count(const struct mk_connection_key *key, __u64 opened, __u64 closed,
				     __u64 sent, __u64 received)
{
	struct mk_connection_totals *t = bpf_map_lookup_elem(&mk_connection, key);

	if (!t) {
		struct mk_connection_totals first = {
			.opened = opened, .closed = closed, .bytes_sent = sent, .bytes_received = received,
		};

		if (bpf_map_update_elem(&mk_connection, key, &first, BPF_NOEXIST) == 0)
			return;
		/* Another CPU created it meanwhile (or the map is full: then nothing is found). */
		t = bpf_map_lookup_elem(&mk_connection, key);
		if (!t)
			return;
	}
	if (opened)
		__sync_fetch_and_add(&t->opened, opened);
	if (closed) {
		__sync_fetch_and_add(&t->closed, closed);
		__sync_fetch_and_add(&t->bytes_sent, sent);
		__sync_fetch_and_add(&t->bytes_received, received);
	}
}

static __always_inline void mk_established(struct bpf_sock_ops *skops, __u8 direction)
{
	struct mk_connection_key key;
	__u32 service_id = 0;

	if (direction == MK_CONN_ACTIVE) {
		struct mk_socket *st = mk_socket_get(skops->sk);

		if (!st)
			return;	/* no memory: the connection goes uncounted, opened and closed alike */
		st->direction = MK_CONN_ACTIVE;
		service_id = st->service_id;
	}
	mk_connection_key_init(skops, direction, service_id, &key);
	mk_count(&key, 1, 0, 0, 0);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

/* Only sockets counted at establishment get here: only they asked for state callbacks. */
static __always_inline void mk_closed(struct bpf_sock_ops *skops)
{
	struct mk_socket *st = mk_socket_find(skops->sk);
	struct mk_connection_key key;

	if (st) {
		if (st->direction != MK_CONN_ACTIVE)
			return;	/* counted already: the socket closed before and connected again */
		st->direction = 0;
		mk_connection_key_init(skops, MK_CONN_ACTIVE, st->service_id, &key);
	} else {
		mk_connection_key_init(skops, MK_CONN_PASSIVE, 0, &key);
	}
	mk_count(&key, 0, 1, skops->bytes_acked, skops->bytes_received);
}

SEC("sockops")
int mk_sockops(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		mk_established(skops, MK_CONN_ACTIVE);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		mk_established(skops, MK_CONN_PASSIVE);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		/* Only CLOSE changes a counter; the other transitions cost this comparison. */
		if (skops->args[1] == BPF_TCP_CLOSE)
			mk_closed(skops);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
