<?php
// Sign a civic-feedback transaction token and build the rating widget's URL.
// PHP 8 built-ins only: hash_hmac (HS256) and, for EdDSA, ext-sodium (bundled with PHP).
// Call sign_rating_token() on your portal's server when a citizen's transaction ends,
// and put rating_widget_url() into the iframe's src. The secret (HS256) or the Ed25519
// private key (EdDSA) must stay on the server: never send it to a browser or a page.
//
// Try it: CF_KID=... CF_SECRET=... CF_TENANT=... CF_SERVICE=... CF_TXN=... php sign_rating_token.php
// (CF_PRIVATE_KEY_FILE=key.pem instead of CF_SECRET for EdDSA; the other variables: ../README.md)

declare(strict_types=1);

const CIVIC_FEEDBACK_AUDIENCE = 'civic-feedback:widget';

/**
 * A token for one finished transaction. $key: the HS256 secret exactly as you were given
 * it (not base64-decoded), or an Ed25519 private key in PKCS#8 PEM for EdDSA.
 * $attributes: optional claims office, operator, channel (strings), case_opened_at,
 * case_answered_at (ints, seconds since 1970).
 */
function sign_rating_token(string $kid, string $key, string $tenant, string $service,
                           string $transaction, array $attributes = [], int $lifetime = 3600): string
{
    if ($kid === '' || $key === '' || $tenant === '' || $service === '' || $transaction === '') {
        throw new InvalidArgumentException('kid, key, tenant, service and transaction are required');
    }
    $eddsa = str_starts_with(ltrim($key), '-----BEGIN PRIVATE KEY-----');
    $now = time();
    $claims = array_merge($attributes, [
        'iss' => $tenant, 'aud' => CIVIC_FEEDBACK_AUDIENCE, 'svc' => $service, 'txn' => $transaction,
        'iat' => $now, 'exp' => $now + $lifetime, 'jti' => bin2hex(random_bytes(16)),
    ]);
    $header = ['alg' => $eddsa ? 'EdDSA' : 'HS256', 'kid' => $kid, 'typ' => 'JWT'];
    $flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR;
    $input = rating_token_base64url(json_encode($header, $flags)) . '.'
        . rating_token_base64url(json_encode($claims, $flags));
    if ($eddsa) {
        // An Ed25519 PKCS#8 key is 48 bytes: a fixed 16-byte prefix, then the 32-byte seed.
        $der = base64_decode(preg_replace('/-----[^-]+-----|\s+/', '', $key), true);
        if ($der === false || strlen($der) !== 48
            || substr($der, 0, 16) !== hex2bin('302e020100300506032b657004220420')) {
            throw new InvalidArgumentException('not an Ed25519 private key in PKCS#8 PEM');
        }
        $keypair = sodium_crypto_sign_seed_keypair(substr($der, 16));
        $signature = sodium_crypto_sign_detached($input, sodium_crypto_sign_secretkey($keypair));
        sodium_memzero($keypair);
    } else {
        $signature = hash_hmac('sha256', $input, $key, true);
    }
    return $input . '.' . rating_token_base64url($signature);
}

/** The widget's address for the iframe's src, e.g. $collector = 'https://feedback.example.gov'. */
function rating_widget_url(string $collector, string $service, string $token): string
{
    return rtrim($collector, '/') . '/w/' . rawurlencode($service) . '?t=' . $token;
}

function rating_token_base64url(string $data): string
{
    return rtrim(strtr(base64_encode($data), '+/', '-_'), '=');
}

if (PHP_SAPI === 'cli' && realpath($_SERVER['SCRIPT_FILENAME'] ?? '') === __FILE__) {
    $env = static fn (string $name): string => (string) getenv($name);
    $attributes = [];
    foreach (['office', 'operator', 'case_opened_at', 'case_answered_at'] as $name) {
        $value = $env('CF_' . strtoupper($name));
        if ($value !== '' && str_starts_with($name, 'case_')) {
            $attributes[$name] = filter_var($value, FILTER_VALIDATE_INT, FILTER_NULL_ON_FAILURE)
                ?? throw new InvalidArgumentException('CF_' . strtoupper($name) . ' must be a whole number');
        } elseif ($value !== '') {
            $attributes[$name] = $value;
        }
    }
    $keyFile = $env('CF_PRIVATE_KEY_FILE');
    $key = $keyFile !== '' ? file_get_contents($keyFile) : $env('CF_SECRET');
    if ($key === false) {
        throw new RuntimeException("cannot read $keyFile");
    }
    $lifetime = $env('CF_LIFETIME') === '' ? 3600 : (int) $env('CF_LIFETIME');
    echo sign_rating_token($env('CF_KID'), $key, $env('CF_TENANT'), $env('CF_SERVICE'), $env('CF_TXN'),
        $attributes, $lifetime), "\n";
}
