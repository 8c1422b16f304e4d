// Sign a civic-feedback transaction token and build the rating widget's URL.
// JDK 17+ only: javax.crypto.Mac (HS256) and java.security.Signature "Ed25519" (EdDSA).
// Call sign() on your portal's server when a citizen's transaction ends, and put
// widgetUrl() into the iframe's src. The secret (HS256) or the Ed25519 private key
// (EdDSA) must stay on the server: never send it to a browser or put it in a page.
//
// Try it: CF_KID=... CF_SECRET=... CF_TENANT=... CF_SERVICE=... CF_TXN=... java SignRatingToken.java
// (CF_PRIVATE_KEY_FILE=key.pem instead of CF_SECRET for EdDSA; the other variables: ../README.md)

import static java.nio.charset.StandardCharsets.UTF_8;

import java.net.URLEncoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.*;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public final class SignRatingToken {
    public static final String AUDIENCE = "civic-feedback:widget";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder BASE64URL = Base64.getUrlEncoder().withoutPadding();

    /**
     * A token for one finished transaction. key: the HS256 secret String exactly as you
     * were given it (not base64-decoded), or an Ed25519 PrivateKey (readPrivateKey) for
     * EdDSA. attributes: optional claims office, operator, channel (String values),
     * case_opened_at, case_answered_at (Long values).
     */
    public static String sign(String kid, Object key, String tenant, String service,
            String transaction, Map<String, Object> attributes, long lifetimeSeconds)
            throws GeneralSecurityException {
        long now = System.currentTimeMillis() / 1000;
        byte[] jti = new byte[16];
        RANDOM.nextBytes(jti);
        String header = "{\"alg\":\"" + (key instanceof PrivateKey ? "EdDSA" : "HS256")
                + "\",\"kid\":" + quote(kid) + ",\"typ\":\"JWT\"}";
        Map<String, Object> claims = new LinkedHashMap<>(attributes);
        claims.putAll(Map.of("iss", tenant, "aud", AUDIENCE, "svc", service, "txn", transaction,
                "iat", now, "exp", now + lifetimeSeconds, "jti", HexFormat.of().formatHex(jti)));
        String input = BASE64URL.encodeToString(header.getBytes(UTF_8)) + "."
                + BASE64URL.encodeToString(json(claims).getBytes(UTF_8));
        byte[] signature;
        if (key instanceof PrivateKey privateKey) {
            Signature signer = Signature.getInstance("Ed25519");
            signer.initSign(privateKey);
            signer.update(input.getBytes(UTF_8));
            signature = signer.sign();
        } else {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(((String) key).getBytes(UTF_8), "HmacSHA256"));
            signature = mac.doFinal(input.getBytes(UTF_8));
        }
        return input + "." + BASE64URL.encodeToString(signature);
    }

    /** An Ed25519 private key from its PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). */
    public static PrivateKey readPrivateKey(String pem) throws GeneralSecurityException {
        byte[] der = Base64.getDecoder().decode(pem.replaceAll("-----[^-]+-----|\\s", ""));
        return KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
    }

    /** The widget's address for the iframe's src, e.g. collector = "https://feedback.example.gov". */
    public static String widgetUrl(String collector, String service, String token) {
        return collector.replaceAll("/+$", "") + "/w/" + URLEncoder.encode(service, UTF_8) + "?t=" + token;
    }

    // Compact JSON of String and Number values: all a token needs.
    private static String json(Map<String, Object> values) {
        StringJoiner out = new StringJoiner(",", "{", "}");
        values.forEach((name, value) -> out.add(quote(name) + ":"
                + (value instanceof Number ? value.toString() : quote(value.toString()))));
        return out.toString();
    }

    private static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.append('"').toString();
    }

    public static void main(String[] args) throws Exception {
        Map<String, Object> attributes = new LinkedHashMap<>();
        for (String name : List.of("office", "operator", "case_opened_at", "case_answered_at")) {
            String value = env("CF_" + name.toUpperCase(), false);
            if (value != null) attributes.put(name, name.startsWith("case_") ? (Object) Long.valueOf(value) : value);
        }
        String keyFile = env("CF_PRIVATE_KEY_FILE", false);
        Object key = keyFile != null ? readPrivateKey(Files.readString(Path.of(keyFile))) : env("CF_SECRET", true);
        String lifetime = env("CF_LIFETIME", false);
        System.out.println(sign(env("CF_KID", true), key, env("CF_TENANT", true), env("CF_SERVICE", true),
                env("CF_TXN", true), attributes, lifetime == null ? 3600 : Long.parseLong(lifetime)));
    }

    private static String env(String name, boolean required) {
        String value = System.getenv(name);
        if (value != null && !value.isEmpty()) return value;
        if (required) throw new IllegalArgumentException(name + " is not set");
        return null;
    }
}
