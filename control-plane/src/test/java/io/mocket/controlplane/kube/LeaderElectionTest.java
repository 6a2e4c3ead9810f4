package io.mocket.controlplane.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Lease election between replicas that share one API server: fabric8's KubernetesMockServer in CRUD mode on
 * loopback (no kube-apiserver can run on the build machines; it is the only mock used). The CRUD store checks
 * metadata.resourceVersion on the lock's merge patches, so concurrent candidates conflict as on a real API.
 */
class LeaderElectionTest {

    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String NS = "istio-system";

    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
    }

    private <T extends AutoCloseable> T closeLater(T closeable) {
        toClose.add(closeable);
        return closeable;
    }

    private static LeaderElection.Settings fast(String identity) {
        return new LeaderElection.Settings(NS, LeaderElection.Settings.DEFAULT_LEASE_NAME, identity,
                Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofMillis(200));
    }

    private LeaderElection replica(MockApiServer api, String identity) {
        KubernetesClient client = closeLater(MockApiServer.client(api.port()));
        return closeLater(new LeaderElection(client, fast(identity)));
    }

    private static String holder(MockApiServer api) {
        Lease lease = api.admin().leases().inNamespace(NS).withName(LeaderElection.Settings.DEFAULT_LEASE_NAME).get();
        return lease == null ? null : lease.getSpec().getHolderIdentity();
    }

    @Test
    void exactlyOneOfTwoReplicasLeadsAndTheOtherTakesOverWhenItCloses() {
        MockApiServer api = closeLater(MockApiServer.start());
        LeaderElection a = replica(api, "control-plane-a");
        LeaderElection b = replica(api, "control-plane-b");
        List<String> events = new CopyOnWriteArrayList<>();
        for (LeaderElection e : List.of(a, b)) {
            e.addListener(new LeaderElection.Listener() {
                @Override
                public void onStartLeading() {
                    events.add(e.identity() + " leads");
                }

                @Override
                public void onStopLeading() {
                    events.add(e.identity() + " stops");
                }
            });
        }

        a.start();
        b.start();

        await().atMost(WAIT).until(() -> a.isLeader() ^ b.isLeader());
        LeaderElection first = a.isLeader() ? a : b;
        LeaderElection second = first == a ? b : a;
        assertThat(holder(api)).isEqualTo(first.identity());
        await().atMost(WAIT).until(() -> second.leader().isPresent());
        assertThat(second.leader()).hasValue(first.identity());
        // Through several renewals there is exactly one leader, always the same.
        await().during(Duration.ofMillis(800)).atMost(WAIT).until(() -> first.isLeader() && !second.isLeader());
        assertThat(second.notLeaderReason()).contains("Lease istio-system/mocket-control-plane")
                .contains(first.identity() + " is");

        first.close();

        await().atMost(WAIT).until(second::isLeader);
        assertThat(first.isLeader()).isFalse();
        assertThat(holder(api)).isEqualTo(second.identity());
        assertThat(events).containsSubsequence(first.identity() + " leads", first.identity() + " stops",
                second.identity() + " leads");
        assertThat(events).doesNotContain(second.identity() + " stops");
    }

    @Test
    void aLeaseHeldByAReplicaThatStoppedRenewingIsTakenOverAfterItExpires() {
        MockApiServer api = closeLater(MockApiServer.start());
        ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
        api.admin().leases().inNamespace(NS).resource(new LeaseBuilder()
                .withNewMetadata().withName(LeaderElection.Settings.DEFAULT_LEASE_NAME).withNamespace(NS).endMetadata()
                .withNewSpec().withHolderIdentity("crashed-replica").withLeaseDurationSeconds(4)
                .withAcquireTime(now).withRenewTime(now).withLeaseTransitions(0).endSpec()
                .build()).create();
        LeaderElection survivor = replica(api, "survivor");

        survivor.start();

        await().atMost(WAIT).until(() -> survivor.leader().isPresent());
        assertThat(survivor.isLeader()).isFalse();
        assertThat(survivor.notLeaderReason()).contains("crashed-replica is");
        await().atMost(WAIT).until(survivor::isLeader);
        assertThat(holder(api)).isEqualTo("survivor");
        assertThat(ZonedDateTime.now(ZoneOffset.UTC)).isAfterOrEqualTo(now.plusSeconds(4));
    }

    @Test
    void theGateWritesOnlyOnTheLeaderAndSaysWhyItSkipped() {
        MockApiServer api = closeLater(MockApiServer.start());
        LeaderElection a = replica(api, "control-plane-a");
        a.start();
        await().atMost(WAIT).until(a::isLeader);
        LeaderElection b = replica(api, "control-plane-b");
        LeaderGate notStarted = new LeaderGate(b);
        AtomicInteger writes = new AtomicInteger();

        assertThat(notStarted.write("update status of Gateway demo/waypoint", writes::incrementAndGet))
                .isInstanceOfSatisfying(LeaderGate.Skipped.class, s -> assertThat(s.reason())
                        .startsWith("skipped update status of Gateway demo/waypoint: ")
                        .contains("has not been started"));
        b.start();
        await().atMost(WAIT).until(() -> b.leader().isPresent());
        LeaderGate.Outcome<Integer> skipped = new LeaderGate(b).write("update status of Gateway demo/waypoint",
                writes::incrementAndGet);
        assertThat(skipped.written()).isFalse();
        assertThat(((LeaderGate.Skipped<Integer>) skipped).reason())
                .contains("this replica (control-plane-b) is not the leader of Lease istio-system/mocket-control-plane")
                .contains("control-plane-a is");
        assertThat(writes).hasValue(0);

        LeaderGate.Outcome<Integer> written = new LeaderGate(a).write("update status", writes::incrementAndGet);
        assertThat(written).isEqualTo(new LeaderGate.Written<>(1));
        assertThat(LeaderGate.standalone().write("file source write", writes::incrementAndGet).written()).isTrue();
        assertThat(writes).hasValue(2);
    }

    @Test
    void anUnreachableApiMeansNoLeadershipAndNoException() {
        int port = MockApiServer.closedPort();
        LeaderElection lonely = closeLater(new LeaderElection(closeLater(MockApiServer.client(port)), fast("lonely")));

        lonely.start();

        await().during(Duration.ofMillis(800)).atMost(WAIT).until(() -> !lonely.isLeader());
        assertThat(lonely.notLeaderReason()).contains("sees no leader yet").contains("leases in istio-system");
    }

    @Test
    void timingsThatWouldLetTwoReplicasLeadAreRefused() {
        assertThatThrownBy(() -> new LeaderElection.Settings(NS, "l", "me", Duration.ofSeconds(10),
                Duration.ofSeconds(10), Duration.ofSeconds(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("renewDeadline < leaseDuration");
        assertThatThrownBy(() -> new LeaderElection.Settings(NS, "l", " ", Duration.ofSeconds(15),
                Duration.ofSeconds(10), Duration.ofSeconds(2)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("identity");
        LeaderElection.Settings defaults = LeaderElection.Settings.defaults(NS);
        assertThat(defaults.leaseName()).isEqualTo("mocket-control-plane");
        assertThat(defaults.identity()).isNotBlank();
        assertThat(defaults.leaseDuration()).isEqualTo(Duration.ofSeconds(15));
    }
}
