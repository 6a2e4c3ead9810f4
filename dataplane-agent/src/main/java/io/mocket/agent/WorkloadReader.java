package io.mocket.agent;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import io.mocket.api.istio.workload.Locality;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads an {@code istio.workload.Address} payload that holds a {@code Workload} straight into a
 * {@link KnownWorkload}, reading only the fields the agent keeps and skipping the rest, without building the
 * generated message (its builders, map entries and the strings the agent drops). A full push of 10,000
 * workloads allocated several times the young generation in such messages.
 *
 * <p>It reads the common shape only: anything whose meaning depends on protobuf's merge rules (a message field
 * sent twice, a known field with another wire type, a service instead of a workload) or bytes that do not parse
 * make it answer {@code null}, and the caller parses the payload with the generated code, which gives the
 * reference result and the exact error. The checks and their messages are {@link ResourceDecoder}'s.
 */
final class WorkloadReader {

    // Address
    private static final int ADDRESS_WORKLOAD = 1;
    // Workload (see the workload API: field numbers are the wire contract)
    private static final int NAME = 1;
    private static final int NAMESPACE = 2;
    private static final int ADDRESSES = 3;
    private static final int NETWORK = 4;
    private static final int TRUST_DOMAIN = 6;
    private static final int SERVICE_ACCOUNT = 7;
    private static final int NODE = 9;
    private static final int CANONICAL_NAME = 10;
    private static final int WORKLOAD_NAME = 13;
    private static final int STATUS = 17;
    private static final int CLUSTER_ID = 18;
    private static final int UID = 20;
    private static final int SERVICES = 22;
    private static final int LOCALITY = 24;
    private static final int UNHEALTHY = 1;
    /** Locality encodings remembered by a decoder (a mesh has a few; the cache starts over beyond this). */
    static final int LOCALITIES_KEPT = 1024;

    private WorkloadReader() {
    }

    private static int tag(int field, int wireType) {
        return field << 3 | wireType;
    }

    /**
     * The workload of an Address payload, checked; {@code null} if the payload is not a plain workload that this
     * reader handles (then parse it with the generated code).
     *
     * @throws InvalidResourceException the workload breaks one of {@link ResourceDecoder}'s checks
     */
    static KnownWorkload read(String name, String version, ByteString payload, Interner pool,
                              Map<ByteString, Locality> localities) throws InvalidResourceException {
        try {
            CodedInputStream in = payload.newCodedInput();
            // Views, not copies, of the payload's parts: the payload is immutable (a view of the response's bytes).
            in.enableAliasing(true);
            ByteString workload = null;
            for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
                if (tag == tag(ADDRESS_WORKLOAD, WireFormat.WIRETYPE_LENGTH_DELIMITED)
                        && workload == null) {
                    workload = in.readBytes();
                } else if (WireFormat.getTagFieldNumber(tag) <= 2) {
                    return null; // a service, or a workload sent twice (merged): the generated code decides
                } else if (!in.skipField(tag)) {
                    return null; // an end-group tag: malformed, the generated parser reports it
                }
            }
            if (workload == null) {
                return null;
            }
            CodedInputStream w = workload.newCodedInput();
            w.enableAliasing(true);
            return workload(name, version, w, pool, localities);
        } catch (IOException e) {
            return null; // malformed: the generated parser reports it as it always did
        }
    }

    private static KnownWorkload workload(String name, String version, CodedInputStream in, Interner pool,
                                          Map<ByteString, Locality> localities)
            throws IOException, InvalidResourceException {
        String uid = "";
        String wName = "";
        String namespace = "";
        List<byte[]> addresses = new ArrayList<>(2);
        String network = "";
        String trustDomain = "";
        String serviceAccount = "";
        String node = "";
        String canonicalName = "";
        String workloadName = "";
        boolean healthy = true;
        String clusterId = "";
        Locality locality = null;
        Map<String, List<KnownWorkload.KnownPort>> services = null;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            int type = WireFormat.getTagWireType(tag);
            boolean delimited = type == WireFormat.WIRETYPE_LENGTH_DELIMITED;
            switch (field) {
                case UID -> uid = delimited ? in.readStringRequireUtf8() : null;
                case NAME -> wName = delimited ? in.readStringRequireUtf8() : null;
                case NAMESPACE -> namespace = delimited ? in.readStringRequireUtf8() : null;
                case NETWORK -> network = delimited ? in.readStringRequireUtf8() : null;
                case TRUST_DOMAIN -> trustDomain = delimited ? in.readStringRequireUtf8() : null;
                case SERVICE_ACCOUNT -> serviceAccount = delimited ? in.readStringRequireUtf8() : null;
                case NODE -> node = delimited ? in.readStringRequireUtf8() : null;
                case CANONICAL_NAME -> canonicalName = delimited ? in.readStringRequireUtf8() : null;
                case WORKLOAD_NAME -> workloadName = delimited ? in.readStringRequireUtf8() : null;
                case CLUSTER_ID -> clusterId = delimited ? in.readStringRequireUtf8() : null;
                case ADDRESSES -> {
                    if (!delimited) {
                        return null;
                    }
                    addresses.add(in.readByteArray());
                }
                case STATUS -> {
                    if (type != WireFormat.WIRETYPE_VARINT) {
                        return null; // a packed form of a singular enum: leave it to the generated code
                    }
                    healthy = in.readEnum() != UNHEALTHY;
                }
                case LOCALITY -> {
                    if (!delimited || locality != null) {
                        return null; // sent twice: merged field by field
                    }
                    // Most workloads share a few localities: look the bytes up before decoding them.
                    ByteString raw = in.readBytes(); // a view of the response's bytes
                    locality = localities.get(raw);
                    if (locality == null) {
                        locality = locality(raw.newCodedInput(), pool);
                        if (locality == null) {
                            return null;
                        }
                        if (localities.size() >= LOCALITIES_KEPT) {
                            localities.clear();
                        }
                        // A copy: the view would keep the whole response alive.
                        localities.put(ByteString.copyFrom(raw.toByteArray()), locality);
                    }
                }
                case SERVICES -> {
                    if (!delimited) {
                        return null;
                    }
                    if (services == null) {
                        services = new LinkedHashMap<>();
                    }
                    int limit = in.pushLimit(in.readRawVarint32());
                    if (!serviceEntry(in, services, pool)) {
                        return null;
                    }
                    in.popLimit(limit);
                }
                default -> {
                    if (!in.skipField(tag)) {
                        return null;
                    }
                }
            }
            if (uid == null || wName == null || namespace == null || network == null || trustDomain == null
                    || serviceAccount == null || node == null || canonicalName == null || workloadName == null
                    || clusterId == null) {
                return null; // a known string field with another wire type
            }
        }

        // ResourceDecoder's checks, in its order.
        if (uid.isEmpty()) {
            throw new InvalidResourceException(name, "workload has no uid");
        }
        List<InetAddress> addressList = new ArrayList<>(addresses.size());
        for (byte[] a : addresses) {
            ResourceDecoder.checkAddress(name, "workload address", a.length);
            addressList.add(address(a));
        }
        Map<String, List<KnownWorkload.KnownPort>> kept = Map.of();
        if (services != null && !services.isEmpty()) {
            for (Map.Entry<String, List<KnownWorkload.KnownPort>> e : services.entrySet()) {
                if (e.getKey().indexOf('/') <= 0) {
                    throw new InvalidResourceException(name, "service key '" + e.getKey()
                            + "' is not '<namespace>/<hostname>'");
                }
                for (KnownWorkload.KnownPort p : e.getValue()) {
                    ResourceDecoder.checkPort(name, "service " + e.getKey(), p.port(), p.targetPort());
                }
            }
            Map<String, List<KnownWorkload.KnownPort>> m = new java.util.HashMap<>(services.size() * 2);
            for (Map.Entry<String, List<KnownWorkload.KnownPort>> e : services.entrySet()) {
                m.put(pool.intern(e.getKey()), e.getValue().isEmpty() ? List.of() : pool.intern(e.getValue()));
            }
            kept = Map.copyOf(m);
        }
        return new KnownWorkload(name, version, wName, pool.intern(namespace), List.copyOf(addressList),
                pool.intern(node), pool.intern(network), pool.intern(clusterId), healthy, locality, kept,
                pool.intern(workloadName), pool.intern(canonicalName), pool.intern(serviceAccount),
                pool.intern(trustDomain));
    }

    /** A Locality message's three strings; null for another wire type of one of them. */
    private static Locality locality(CodedInputStream in, Interner pool) throws IOException {
        String region = "";
        String zone = "";
        String subzone = "";
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            if (field >= 1 && field <= 3) {
                if (WireFormat.getTagWireType(tag) != WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                    return null;
                }
                String v = in.readStringRequireUtf8();
                switch (field) {
                    case 1 -> region = v;
                    case 2 -> zone = v;
                    default -> subzone = v;
                }
            } else {
                return null; // unknown fields are kept by the generated message: let it be the reference
            }
        }
        return pool.intern(Locality.newBuilder().setRegion(region).setZone(zone).setSubzone(subzone).build());
    }

    /** One entry of the services map (key 1, PortList 2); a later entry with the same key replaces it. */
    private static boolean serviceEntry(CodedInputStream in, Map<String, List<KnownWorkload.KnownPort>> into,
                                        Interner pool) throws IOException {
        String key = "";
        List<KnownWorkload.KnownPort> ports = List.of();
        boolean sawValue = false;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            boolean delimited = WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
            if (field == 1 && delimited) {
                key = in.readStringRequireUtf8();
            } else if (field == 2 && delimited && !sawValue) {
                sawValue = true;
                int limit = in.pushLimit(in.readRawVarint32());
                ports = portList(in);
                if (ports == null) {
                    return false;
                }
                in.popLimit(limit);
            } else if (field == 1 || field == 2 || !in.skipField(tag)) {
                return false;
            }
        }
        into.put(key, ports);
        return true;
    }

    /** A PortList's ports (service_port 1, target_port 2; app_protocol 3 is not kept). */
    private static List<KnownWorkload.KnownPort> portList(CodedInputStream in) throws IOException {
        List<KnownWorkload.KnownPort> ports = new ArrayList<>(2);
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (tag == tag(1, WireFormat.WIRETYPE_LENGTH_DELIMITED)) {
                int limit = in.pushLimit(in.readRawVarint32());
                int servicePort = 0;
                int targetPort = 0;
                for (int t = in.readTag(); t != 0; t = in.readTag()) {
                    if (t == tag(1, WireFormat.WIRETYPE_VARINT)) {
                        servicePort = in.readUInt32();
                    } else if (t == tag(2, WireFormat.WIRETYPE_VARINT)) {
                        targetPort = in.readUInt32();
                    } else if (WireFormat.getTagFieldNumber(t) <= 2 || !in.skipField(t)) {
                        return null;
                    }
                }
                in.popLimit(limit);
                ports.add(new KnownWorkload.KnownPort(servicePort, targetPort));
            } else if (WireFormat.getTagFieldNumber(tag) == 1 || !in.skipField(tag)) {
                return null;
            }
        }
        return ports.isEmpty() ? List.of() : List.copyOf(ports);
    }

    private static InetAddress address(byte[] raw) {
        try {
            return InetAddress.getByAddress(raw);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("address of " + raw.length + " bytes reached the store", e);
        }
    }
}
