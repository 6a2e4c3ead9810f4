package io.mocket.controlplane.xds;

import static org.assertj.core.api.Assertions.assertThat;

import io.mocket.controlplane.resources.ResourceType;
import org.junit.jupiter.api.Test;

class NonceTest {

    @Test
    void bothFormsRoundTrip() {
        Nonce local = Nonce.local(51, 42);
        assertThat(local.format()).isEqualTo("1f-42");
        assertThat(Nonce.parse("1f-42")).isEqualTo(local);
        assertThat(local.isShared()).isFalse();

        Nonce shared = Nonce.shared(ResourceType.AUTHORIZATION, 42);
        assertThat(shared.format()).isEqualTo(ResourceType.AUTHORIZATION.ordinal() + ".42");
        assertThat(Nonce.parse(shared.format())).isEqualTo(shared);
        assertThat(shared.isShared()).isTrue();
        // The same generation in the two forms, or for two types, never gives the same text.
        assertThat(shared.format()).isNotEqualTo(Nonce.shared(ResourceType.ADDRESS, 42).format())
                .isNotEqualTo(Nonce.local(0, 42).format());
    }

    @Test
    void textThisServerDidNotMakeIsNotANonce() {
        for (String text : new String[] {"", "-", "1-", "-5", "x", "1.", ".5", "9.5", "-1.5", "1.-5", "0.x", "zz-y", "a.b-c"}) {
            assertThat(Nonce.parse(text)).as("'%s'", text).isNull();
        }
    }
}
