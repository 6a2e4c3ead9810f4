package io.mocket.controlplane.index;

import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.mocket.api.istio.workload.WorkloadType;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The workload a pod belongs to, derived from its controller the way Istio derives it for telemetry:
 * a ReplicaSet named "deploy-hash" whose pods carry that pod-template-hash is Deployment "deploy"; a Job
 * named "name-" plus 8 to 10 digits is CronJob "name"; the service.istio.io/workload-name label overrides.
 *
 * @param name the workload name
 * @param kind the controller kind after the heuristics ("Deployment", "CronJob", "Pod", ...)
 */
record WorkloadMeta(String name, String kind) {
    private static final Pattern CRONJOB_JOB_NAME = Pattern.compile("(.+)-\\d{8,10}$");

    static WorkloadMeta of(Pod pod) {
        String podName = pod.getMetadata().getName();
        Map<String, String> labels = MeshLabels.labels(pod);
        String name = podName;
        String kind = "Pod";
        String generateName = pod.getMetadata().getGenerateName();
        // Only a generated name says the pod was made by a controller.
        if (generateName != null && !generateName.isEmpty()) {
            OwnerReference controller = controllerOf(pod);
            if (controller != null) {
                kind = controller.getKind();
                name = controller.getName();
                String hash = labels.getOrDefault(MeshLabels.POD_TEMPLATE_HASH, "");
                String rolloutHash = labels.getOrDefault(MeshLabels.ROLLOUTS_POD_TEMPLATE_HASH, "");
                if ("ReplicaSet".equals(kind) && !hash.isEmpty() && name.endsWith(hash)) {
                    name = trimSuffix(name, "-" + hash);
                    kind = "Deployment";
                } else if ("ReplicaSet".equals(kind) && !rolloutHash.isEmpty() && name.endsWith(rolloutHash)) {
                    name = trimSuffix(name, "-" + rolloutHash);
                    kind = "Rollout";
                } else if ("ReplicationController".equals(kind) && !labels.getOrDefault(MeshLabels.DEPLOYMENT_CONFIG, "").isEmpty()) {
                    name = labels.get(MeshLabels.DEPLOYMENT_CONFIG);
                    kind = "DeploymentConfig";
                } else if ("Job".equals(kind)) {
                    Matcher m = CRONJOB_JOB_NAME.matcher(name);
                    if (m.matches()) {
                        name = m.group(1);
                        kind = "CronJob";
                    }
                }
            }
        }
        if (name == null || name.isEmpty()) {
            name = podName;
        }
        String override = labels.get(MeshLabels.WORKLOAD_NAME);
        if (override != null) {
            name = override;
        }
        return new WorkloadMeta(name, kind);
    }

    /**
     * The workload API type. istiod has sent POD for every pod since Istio 1.26 (ztunnel only copies it into
     * baggage); Mocket sends the controller type, which the enum has carried from the start.
     */
    WorkloadType type() {
        return switch (kind) {
            case "Deployment" -> WorkloadType.DEPLOYMENT;
            case "Job" -> WorkloadType.JOB;
            case "CronJob" -> WorkloadType.CRONJOB;
            default -> WorkloadType.POD;
        };
    }

    private static OwnerReference controllerOf(Pod pod) {
        if (pod.getMetadata().getOwnerReferences() == null) {
            return null;
        }
        for (OwnerReference ref : pod.getMetadata().getOwnerReferences()) {
            if (Boolean.TRUE.equals(ref.getController())) {
                return ref;
            }
        }
        return null;
    }

    private static String trimSuffix(String s, String suffix) {
        return s.endsWith(suffix) ? s.substring(0, s.length() - suffix.length()) : s;
    }
}
