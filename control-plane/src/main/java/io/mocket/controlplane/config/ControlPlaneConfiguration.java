package io.mocket.controlplane.config;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.mocket.controlplane.admin.SourceHealthIndicator;
import io.mocket.controlplane.index.AmbientIndex;
import io.mocket.controlplane.index.MeshSettings;
import io.mocket.controlplane.kube.FileSource;
import io.mocket.controlplane.kube.KubernetesSource;
import io.mocket.controlplane.kube.LeaderElection;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.xds.AdsService;
import io.mocket.controlplane.xds.IndexService;
import io.mocket.controlplane.xds.XdsServer;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Wires the control plane: one {@link ResourceStore} that the {@link AmbientIndex} writes and everything
 * else reads; the configured source feeding the index; the xDS server reading the store.
 */
@Configuration(proxyBeanMethods = false)
class ControlPlaneConfiguration {

    @Bean
    ResourceStore resourceStore() {
        return new ResourceStore();
    }

    @Bean(destroyMethod = "close")
    AmbientIndex ambientIndex(MocketProperties p, ResourceStore store, MeterRegistry meters) {
        p.validate();
        MeshSettings mesh = new MeshSettings(p.clusterId(), p.domainSuffix(), p.trustDomain(), p.rootNamespace(),
                p.network(), p.debounce().quiet(), p.debounce().max());
        return new AmbientIndex(mesh, store, meters);
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnExpression("'${mocket.source:kubernetes}' == 'kubernetes'")
    KubernetesClient kubernetesClient() {
        return new KubernetesClientBuilder().build();
    }

    @Bean
    SourceLifecycle sourceLifecycle(MocketProperties p, AmbientIndex index, MeterRegistry meters,
                                    ObjectProvider<KubernetesClient> client) {
        if (p.fileSource()) {
            FileSource file = new FileSource(p.sourceDirectory(), index, FileSource.Settings.defaults(), meters);
            return new SourceLifecycle("file:" + file.directory(), file::start, file::health, file::close, file);
        }
        Duration resync = p.kubernetes().resync();
        KubernetesSource.Settings defaults = KubernetesSource.Settings.defaults();
        KubernetesSource kube = new KubernetesSource(client.getObject(), index,
                new KubernetesSource.Settings(resync, defaults.crdRetryPeriod(), defaults.healthProbePeriod()), meters);
        return new SourceLifecycle("kubernetes", kube::start, kube::health, kube::close, kube);
    }

    @Bean
    SourceHealthIndicator sourceHealthIndicator(SourceLifecycle source) {
        return new SourceHealthIndicator(source.name(), source::health);
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnExpression("'${mocket.source:kubernetes}' == 'kubernetes' and ${mocket.leader-election.enabled:true}")
    LeaderElection leaderElection(KubernetesClient client, MocketProperties p) {
        MocketProperties.LeaderElection le = p.leaderElection();
        LeaderElection election = new LeaderElection(client, new LeaderElection.Settings(le.namespace(), le.leaseName(),
                LeaderElection.Settings.defaultIdentity(), le.leaseDuration(), le.renewDeadline(), le.retryPeriod()));
        election.start();
        return election;
    }

    @Bean(destroyMethod = "shutdownNow")
    ExecutorService xdsPushExecutor() {
        AtomicInteger n = new AtomicInteger();
        int threads = Math.max(2, Runtime.getRuntime().availableProcessors());
        return Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "xds-push-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    @Bean
    AdsService adsService(ResourceStore store, MeterRegistry meters, ExecutorService xdsPushExecutor) {
        return new AdsService(store, meters, xdsPushExecutor);
    }

    @Bean
    IndexService indexService(ResourceStore store) {
        return new IndexService(store);
    }

    @Bean
    XdsServerLifecycle xdsServer(MocketProperties p, AdsService ads, IndexService index) {
        XdsServer.Settings settings = XdsServer.Settings.defaults()
                .withBindAddress(p.xds().address())
                .withPort(p.xds().port());
        return new XdsServerLifecycle(new XdsServer(settings, ads, index));
    }
}
