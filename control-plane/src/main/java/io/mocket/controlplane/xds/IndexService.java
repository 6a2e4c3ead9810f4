package io.mocket.controlplane.xds;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.mocket.api.istio.security.Authorization;
import io.mocket.api.istio.workload.Address;
import io.mocket.api.v1.GetRequest;
import io.mocket.api.v1.IndexGrpc;
import io.mocket.controlplane.resources.ResourceStore;
import io.mocket.controlplane.resources.ResourceType;
import io.mocket.controlplane.resources.XdsResource;
import java.util.Objects;
import java.util.Optional;

/**
 * Read-only lookups of served resources by name (mocket.v1.Index), answered from the current snapshot
 * of the {@link ResourceStore}. Thread safe.
 */
public final class IndexService extends IndexGrpc.IndexImplBase {
    private static final String ADDRESS_NAMES = "names look like 'Kubernetes//Pod/<namespace>/<pod>' (workload), "
            + "'<namespace>/<hostname>' (service, e.g. 'default/web.default.svc.cluster.local') "
            + "or '<network>/<IP>' (any address, e.g. '/10.1.2.3' on the default network)";
    private static final String AUTHORIZATION_NAMES = "names look like '<namespace>/<policy name>', "
            + "e.g. 'default/allow-web'";

    private final ResourceStore store;

    public IndexService(ResourceStore store) {
        this.store = Objects.requireNonNull(store, "store");
    }

    @Override
    public void getAddress(GetRequest request, StreamObserver<Address> response) {
        lookup(ResourceType.ADDRESS, request.getName(), ADDRESS_NAMES, Address.class, response);
    }

    @Override
    public void getAuthorization(GetRequest request, StreamObserver<Authorization> response) {
        lookup(ResourceType.AUTHORIZATION, request.getName(), AUTHORIZATION_NAMES, Authorization.class, response);
    }

    private <T> void lookup(ResourceType type, String name, String howNamesLook, Class<T> messageClass,
                            StreamObserver<T> response) {
        String kind = messageClass.getSimpleName();
        if (name.isEmpty()) {
            response.onError(Status.INVALID_ARGUMENT
                    .withDescription("no name given: set 'name' to the " + kind + " to look up; " + howNamesLook)
                    .asRuntimeException());
            return;
        }
        Optional<XdsResource> found = store.current().resolve(type, name);
        if (found.isEmpty()) {
            response.onError(Status.NOT_FOUND
                    .withDescription("no " + kind + " named '" + name + "' is served; " + howNamesLook)
                    .asRuntimeException());
            return;
        }
        if (!messageClass.isInstance(found.get().message())) {
            response.onError(Status.INTERNAL
                    .withDescription(kind + " '" + name + "' is stored as " + found.get().message().getClass().getName()
                            + ": the translator committed a resource of the wrong message type")
                    .asRuntimeException());
            return;
        }
        response.onNext(messageClass.cast(found.get().message()));
        response.onCompleted();
    }
}
