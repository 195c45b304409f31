// Receive our webhooks and verify them (Standard Webhooks), with the JDK alone.
// Run: WEBHOOK_SECRET=whsec_... PORT=8000 java Receive.java   (Java 11+)
import com.sun.net.httpserver.*;
import java.io.*;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.*;
import java.util.*;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class Receive {
    static final long TOLERANCE_SECONDS = 5 * 60;
    static final byte[] SECRET =
            Base64.getDecoder().decode(System.getenv("WEBHOOK_SECRET").replaceFirst("^whsec_", ""));
    // The server's default executor handles one request at a time, so a plain set will do here;
    // real code stores processed ids durably, e.g. in a unique column.
    static final Set<String> processed = new HashSet<>();

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8000"));
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/webhooks", Receive::receive);
        server.start();
    }

    static void receive(HttpExchange exchange) throws IOException {
        byte[] body = exchange.getRequestBody().readAllBytes(); // the raw bytes
        String problem = exchange.getRequestMethod().equals("POST")
                ? verificationProblem(exchange.getRequestHeaders(), body) : "POST only";
        if (problem != null) {
            answer(exchange, 400, problem);
            return;
        }
        String id = exchange.getRequestHeaders().getFirst("webhook-id"); // the same on every retry
        if (processed.contains(id)) {
            answer(exchange, 200, "duplicate");
            return;
        }
        try {
            handle(new String(body, StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            answer(exchange, 500, "handling failed"); // not marked processed: we retry
            return;
        }
        processed.add(id); // only once handled
        answer(exchange, 200, "ok");
    }

    /** Returns why the delivery is not genuine, or null when it is. */
    static String verificationProblem(Headers headers, byte[] body) {
        String id = headers.getFirst("webhook-id"), timestamp = headers.getFirst("webhook-timestamp");
        String signatures = headers.getFirst("webhook-signature");
        if (id == null || id.isEmpty() || timestamp == null || signatures == null || signatures.isEmpty()) {
            return "missing webhook-id, webhook-timestamp or webhook-signature header";
        }
        if (!timestamp.matches("\\d{1,12}")
                || Math.abs(System.currentTimeMillis() / 1000 - Long.parseLong(timestamp)) > TOLERANCE_SECONDS) {
            return "webhook-timestamp is more than 5 minutes from now";
        }
        byte[] signed = (id + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8);
        byte[] expected = Base64.getEncoder().encode(hmac(signed, body));
        for (String signature : signatures.split(" ")) { // two during a secret rotation: either may match
            String[] parts = signature.split(",", 2);
            if (parts.length == 2 && parts[0].equals("v1")
                    && MessageDigest.isEqual(parts[1].getBytes(StandardCharsets.UTF_8), expected)) {
                return null;
            }
        }
        return "no signature matches";
    }

    static byte[] hmac(byte[] prefix, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(SECRET, "HmacSHA256"));
            mac.update(prefix);
            return mac.doFinal(body);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    static void handle(String event) {
        System.out.println("received " + event); // your work here: parse it with your JSON library
    }

    static void answer(HttpExchange exchange, int status, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
