<?php
// Receive our webhooks and verify them (Standard Webhooks), with plain PHP.
// Run: WEBHOOK_SECRET=whsec_... php -S 127.0.0.1:8000 receive.php   (or behind any PHP web server)

const TOLERANCE_SECONDS = 5 * 60;

function answer(int $status, string $text): void
{
    http_response_code($status);
    header('Content-Type: text/plain');
    echo $text;
    exit;
}

function handle(array $event): void
{
    error_log("received {$event['type']} {$event['id']}"); // your work here
}

if ($_SERVER['REQUEST_METHOD'] !== 'POST' || parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH) !== '/webhooks') {
    answer(404, 'not found');
}
$secret = base64_decode(preg_replace('/^whsec_/', '', getenv('WEBHOOK_SECRET')), true);
$body = file_get_contents('php://input'); // the raw bytes: never re-encode the parsed JSON
$id = $_SERVER['HTTP_WEBHOOK_ID'] ?? '';
$timestamp = $_SERVER['HTTP_WEBHOOK_TIMESTAMP'] ?? '';
$signatures = $_SERVER['HTTP_WEBHOOK_SIGNATURE'] ?? '';

if ($id === '' || $timestamp === '' || $signatures === '') {
    answer(400, 'missing webhook-id, webhook-timestamp or webhook-signature header');
}
if (!ctype_digit($timestamp) || abs(time() - (int) $timestamp) > TOLERANCE_SECONDS) {
    answer(400, 'webhook-timestamp is more than 5 minutes from now');
}
$expected = base64_encode(hash_hmac('sha256', "$id.$timestamp.$body", $secret, true));
$verified = false;
foreach (explode(' ', $signatures) as $signature) { // two during a secret rotation: either may match
    [$version, $value] = array_pad(explode(',', $signature, 2), 2, '');
    if ($version === 'v1' && hash_equals($expected, $value)) {
        $verified = true;
    }
}
if (!$verified) {
    answer(400, 'no signature matches');
}

// Each request is a fresh PHP process here, so this sample remembers ids in files; real code
// stores processed ids durably, e.g. in a unique column.
$marker = sys_get_temp_dir() . '/webhook-' . hash('sha256', $id); // the id is the same on every retry
if (file_exists($marker)) {
    answer(200, 'duplicate');
}
handle(json_decode($body, true, 512, JSON_THROW_ON_ERROR)); // an error answers 500: we retry
touch($marker); // only once handled
answer(200, 'ok');
