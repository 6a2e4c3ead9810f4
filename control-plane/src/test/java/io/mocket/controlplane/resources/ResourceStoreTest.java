package io.mocket.controlplane.resources;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.istio.workload.Workload;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ResourceStoreTest {

    private static XdsResource workload(String name, String ip, String node) {
        byte[] addr = java.net.InetAddress.ofLiteral(ip).getAddress();
        Address a = Address.newBuilder().setWorkload(Workload.newBuilder()
                .setUid(name).setNode(node).addAddresses(ByteString.copyFrom(addr))).build();
        return XdsResource.of(ResourceType.ADDRESS, name, List.of("/" + ip), a);
    }

    @Test
    void versionIsDerivedFromContentAndStable() {
        assertThat(workload("w", "10.0.0.1", "n1").version())
                .isEqualTo(workload("w", "10.0.0.1", "n1").version())
                .isNotEqualTo(workload("w", "10.0.0.1", "n2").version())
                .hasSize(16);
    }

    @Test
    void unchangedUpsertMakesNoGeneration() {
        ResourceStore store = new ResourceStore();
        assertThat(store.commit(List.of(workload("w", "10.0.0.1", "n1")), Map.of(), 0)).isNotNull();
        assertThat(store.commit(List.of(workload("w", "10.0.0.1", "n1")), Map.of(), 0)).isNull();
        assertThat(store.current().generation()).isEqualTo(1);
    }

    @Test
    void aliasesFollowTheirResource() {
        ResourceStore store = new ResourceStore();
        store.commit(List.of(workload("w", "10.0.0.1", "n1")), Map.of(), 0);
        assertThat(store.current().resolve(ResourceType.ADDRESS, "/10.0.0.1")).map(XdsResource::name).hasValue("w");
        store.commit(List.of(workload("w", "10.0.0.2", "n1")), Map.of(), 0);
        assertThat(store.current().resolve(ResourceType.ADDRESS, "/10.0.0.1")).isEmpty();
        assertThat(store.current().resolve(ResourceType.ADDRESS, "/10.0.0.2")).isPresent();
        store.commit(List.of(), Map.of(ResourceType.ADDRESS, Set.of("w")), 0);
        assertThat(store.current().aliases()).isEmpty();
    }

    @Test
    void changesFromLogAndFromFullComparisonAgree() {
        ResourceStore store = new ResourceStore();
        store.commit(List.of(workload("a", "10.0.0.1", "n1"), workload("b", "10.0.0.2", "n1")), Map.of(), 0);
        Snapshot old = store.current();
        List<Commit> seen = new ArrayList<>();
        store.addListener(seen::add);
        store.commit(List.of(workload("a", "10.0.0.1", "n2"), workload("c", "10.0.0.3", "n1")), Map.of(), 0);
        store.commit(List.of(), Map.of(ResourceType.ADDRESS, Set.of("b")), 0);
        assertThat(seen).hasSize(2);

        ResourceStore.Changes fromLog = store.changes(ResourceType.ADDRESS, old, store.current());
        assertThat(fromLog.send()).extracting(XdsResource::name).containsExactlyInAnyOrder("a", "c");
        assertThat(fromLog.remove()).containsExactly("b");

        // Push the first commit out of the log: the same answer must come from comparing snapshots.
        for (int i = 0; i < ResourceStore.HISTORY + 1; i++) {
            store.commit(List.of(workload("filler", "10.9.0.1", "n" + i)), Map.of(), 0);
        }
        ResourceStore.Changes full = store.changes(ResourceType.ADDRESS, old, store.current());
        assertThat(full.send()).extracting(XdsResource::name).containsExactlyInAnyOrder("a", "c", "filler");
        assertThat(full.remove()).containsExactly("b");
    }

    @Test
    void aResourceReUpsertedWithItsAliasTakesItBack() {
        ResourceStore store = new ResourceStore();
        store.commit(List.of(workload("a", "10.0.0.1", "n1")), Map.of(), 0);
        store.commit(List.of(workload("b", "10.0.0.1", "n1")), Map.of(), 0); // b took a's IP
        assertThat(store.current().canonicalNameOfAlias("/10.0.0.1")).isEqualTo("b");
        store.commit(List.of(workload("a", "10.0.0.1", "n2")), Map.of(), 0); // a changed, same IP
        assertThat(store.current().canonicalNameOfAlias("/10.0.0.1")).isEqualTo("a");
        store.commit(List.of(), Map.of(ResourceType.ADDRESS, List.of("a")), 0);
        assertThat(store.current().canonicalNameOfAlias("/10.0.0.1")).isNull();
        assertThat(store.current().resolve(ResourceType.ADDRESS, "/10.0.0.1")).isEmpty();
    }

    @Test
    void manySmallCommitsKeepEveryResourceAndAlias() {
        ResourceStore store = new ResourceStore();
        List<XdsResource> all = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            all.add(workload("w" + i, "10.0." + (i / 250) + "." + (i % 250), "n1"));
        }
        store.commit(all, Map.of(), 0);
        for (int k = 0; k < 500; k++) {
            int i = k * 7 % 1_000;
            store.commit(List.of(workload("w" + i, "10.0." + (i / 250) + "." + (i % 250), "n" + k)), Map.of(), 0);
        }
        Snapshot s = store.current();
        assertThat(s.size(ResourceType.ADDRESS)).isEqualTo(1_000);
        assertThat(s.all(ResourceType.ADDRESS)).hasSize(1_000);
        assertThat(s.aliases()).hasSize(1_000);
        for (int i = 0; i < 1_000; i++) {
            assertThat(s.resolve(ResourceType.ADDRESS, "/10.0." + (i / 250) + "." + (i % 250)))
                    .get().extracting(XdsResource::name).isEqualTo("w" + i);
        }
    }
}
