/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sockops hook: per-connection accounting of TCP sockets in the cgroup.
 *
 * At establishment the socket asks for state-change callbacks; every state
 * change refreshes the byte counters, and the move to CLOSE stamps the end
 * and drops the socket's reverse NAT entry (getpeername is no longer asked).
 */
#include "frontend.h"
#include "revnat.h"
#include "connection.h"

/*
 * Reads a context field where it stands. Without the barrier clang may merge the loads of both branches
 * into one load through a computed ctx pointer, which the verifier rejects ("modified ctx ptr").
 */
#define MK_CTX_READ(field) ({ __u32 __v = (field); asm volatile("" : "+r"(__v)); __v; })

static __always_inline void mk_sock_addrs(struct bpf_sock_ops *skops, struct mk_connection *conn)
{
	if (MK_CTX_READ(skops->family) == 2 /* AF_INET */) {
		mk_addr_from_v4(conn->local_addr, MK_CTX_READ(skops->local_ip4));
		mk_addr_from_v4(conn->remote_addr, MK_CTX_READ(skops->remote_ip4));
	} else {
		conn->local_addr[0] = MK_CTX_READ(skops->local_ip6[0]);
		conn->local_addr[1] = MK_CTX_READ(skops->local_ip6[1]);
		conn->local_addr[2] = MK_CTX_READ(skops->local_ip6[2]);
		conn->local_addr[3] = MK_CTX_READ(skops->local_ip6[3]);
		conn->remote_addr[0] = MK_CTX_READ(skops->remote_ip6[0]);
		conn->remote_addr[1] = MK_CTX_READ(skops->remote_ip6[1]);
		conn->remote_addr[2] = MK_CTX_READ(skops->remote_ip6[2]);
		conn->remote_addr[3] = MK_CTX_READ(skops->remote_ip6[3]);
	}
	/* remote_port is a 32-bit value in network order, local_port is in host order. */
	conn->remote_port = bpf_htons((__u16)bpf_ntohl(MK_CTX_READ(skops->remote_port)));
	conn->local_port = bpf_htons((__u16)MK_CTX_READ(skops->local_port));
}

/* The service of the VIP this socket dialled, found through the entry connect left. */
static __always_inline __u32 mk_dialled_service(__u64 cookie, const struct mk_connection *conn)
{
	struct mk_frontend_key fkey = {};
	struct mk_frontend_value *fe;
	struct mk_revnat_value *vip;
	struct mk_revnat_key rkey;

	mk_revnat_key_init(&rkey, cookie, conn->remote_addr, conn->remote_port);
	vip = bpf_map_lookup_elem(&mk_revnat, &rkey);
	if (!vip)
		return 0;
	mk_addr_copy(fkey.addr, vip->addr);
	fkey.port = vip->port;
	fkey.proto = IPPROTO_TCP;
	fe = bpf_map_lookup_elem(&mk_frontend, &fkey);
	return fe ? fe->service_id : 0;
}

static __always_inline void mk_established(struct bpf_sock_ops *skops, __u8 direction)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	struct mk_connection conn = {};

	conn.opened_ns = bpf_ktime_get_ns();
	conn.direction = direction;
	conn.state = BPF_TCP_ESTABLISHED;
	mk_sock_addrs(skops, &conn);
	if (direction == MK_CONN_ACTIVE)
		conn.service_id = mk_dialled_service(cookie, &conn);
	bpf_map_update_elem(&mk_connection, &cookie, &conn, BPF_ANY);
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void mk_state_change(struct bpf_sock_ops *skops)
{
	__u64 cookie = bpf_get_socket_cookie(skops);
	__u32 new_state = skops->args[1];
	struct mk_connection *conn;

	conn = bpf_map_lookup_elem(&mk_connection, &cookie);
	if (!conn)
		return;
	conn->bytes_sent = skops->bytes_acked;
	conn->bytes_received = skops->bytes_received;
	conn->state = (__u8)new_state;
	if (new_state == BPF_TCP_CLOSE) {
		struct mk_revnat_key rkey;

		conn->closed_ns = bpf_ktime_get_ns();
		mk_revnat_key_init(&rkey, cookie, conn->remote_addr, conn->remote_port);
		bpf_map_delete_elem(&mk_revnat, &rkey);
	}
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
		mk_state_change(skops);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
