package io.mocket.controlplane.index;

import java.net.InetAddress;

/** Parsing of IP literals and CIDRs as Kubernetes and Istio write them, without any name resolution. */
final class IpAddresses {
    private IpAddresses() {
    }

    /** The 4 or 16 bytes of an IP literal, or null when {@code text} is not one. */
    static byte[] parse(String text) {
        if (text == null || text.isEmpty() || text.indexOf('/') >= 0 || text.indexOf('%') >= 0) {
            return null;
        }
        // Kubernetes and Istio (Go's netip) accept only dotted quads without leading zeros; ofLiteral alone
        // would also take BSD forms such as "10.1" or "010.0.0.1".
        if (text.indexOf(':') < 0 && !isDottedQuad(text)) {
            return null;
        }
        // ofLiteral never touches DNS.
        try {
            return InetAddress.ofLiteral(text).getAddress();
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean isDottedQuad(String text) {
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || (p.length() > 1 && p.charAt(0) == '0')
                    || !p.chars().allMatch(c -> c >= '0' && c <= '9') || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    /** An address with a prefix length; a plain IP is a host prefix (/32 or /128). */
    record Cidr(byte[] address, int length) {
    }

    /** The CIDR in {@code text} ("10.0.0.0/16", "10.0.0.1", "fd00::/8"), or null when it is not one. */
    static Cidr parseCidr(String text) {
        if (text == null) {
            return null;
        }
        int slash = text.indexOf('/');
        if (slash < 0) {
            byte[] ip = parse(text);
            return ip == null ? null : new Cidr(ip, ip.length * 8);
        }
        byte[] ip = parse(text.substring(0, slash));
        String bits = text.substring(slash + 1);
        if (ip == null || bits.isEmpty() || bits.length() > 3 || !bits.chars().allMatch(Character::isDigit)
                || (bits.length() > 1 && bits.charAt(0) == '0')) {
            return null;
        }
        int length = Integer.parseInt(bits);
        return length > ip.length * 8 ? null : new Cidr(ip, length);
    }
}
