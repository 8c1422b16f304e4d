// Sign a civic-feedback transaction token and build the rating widget's URL. Standard
// library only: crypto/hmac (HS256) and crypto/ed25519 (EdDSA). Call SignRatingToken on
// your portal's server when a citizen's transaction ends and put WidgetURL into the
// iframe's src. The secret (HS256) or the Ed25519 private key (EdDSA) must stay on the
// server: never send it to a browser or put it in a page.
//
// Try it: CF_KID=... CF_SECRET=... CF_TENANT=... CF_SERVICE=... CF_TXN=... go run .
// (CF_PRIVATE_KEY_FILE=key.pem instead of CF_SECRET for EdDSA; the other variables: ../README.md)
package main

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

const Audience = "civic-feedback:widget"

// SignRatingToken returns a token for one finished transaction. key is the HS256 secret
// (a string, exactly as you were given it, not base64-decoded) or an ed25519.PrivateKey
// (EdDSA). attributes holds the optional claims office, operator, channel (strings),
// case_opened_at and case_answered_at (int64, seconds since 1970).
func SignRatingToken(kid string, key any, tenant, service, transaction string,
	attributes map[string]any, lifetime time.Duration) (string, error) {
	private, isPrivate := key.(ed25519.PrivateKey)
	secret, _ := key.(string)
	if kid == "" || tenant == "" || service == "" || transaction == "" || secret == "" && !isPrivate {
		return "", errors.New("kid, tenant, service, transaction and key are required")
	}
	alg := "HS256"
	if isPrivate {
		alg = "EdDSA"
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	now := time.Now().Unix()
	claims := map[string]any{"iss": tenant, "aud": Audience, "svc": service, "txn": transaction,
		"iat": now, "exp": now + int64(lifetime/time.Second), "jti": hex.EncodeToString(jti)}
	for name, value := range attributes {
		if _, taken := claims[name]; !taken {
			claims[name] = value
		}
	}
	header, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	b64 := base64.RawURLEncoding
	input := []byte(b64.EncodeToString(header) + "." + b64.EncodeToString(payload))
	var signature []byte
	if isPrivate {
		signature = ed25519.Sign(private, input)
	} else {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(input)
		signature = mac.Sum(nil)
	}
	return string(input) + "." + b64.EncodeToString(signature), nil
}

// WidgetURL is the widget's address for the iframe's src, e.g. collector = "https://feedback.example.gov".
func WidgetURL(collector, service, token string) string {
	return strings.TrimRight(collector, "/") + "/w/" + url.PathEscape(service) + "?t=" + token
}

func main() {
	env, attributes := os.Getenv, map[string]any{}
	for _, name := range []string{"office", "operator", "case_opened_at", "case_answered_at"} {
		if value := env("CF_" + strings.ToUpper(name)); value != "" && strings.HasPrefix(name, "case_") {
			attributes[name] = must(strconv.ParseInt(value, 10, 64))
		} else if value != "" {
			attributes[name] = value
		}
	}
	lifetime := int64(3600)
	if env("CF_LIFETIME") != "" {
		lifetime = must(strconv.ParseInt(env("CF_LIFETIME"), 10, 64))
	}
	var key any = env("CF_SECRET")
	if file := env("CF_PRIVATE_KEY_FILE"); file != "" {
		block, _ := pem.Decode(must(os.ReadFile(file))) // a PKCS#8 "PRIVATE KEY"
		if block == nil {
			must(0, errors.New(file+" is not a PEM file"))
		}
		key = must(x509.ParsePKCS8PrivateKey(block.Bytes)) // ed25519.PrivateKey for Ed25519
	}
	fmt.Println(must(SignRatingToken(env("CF_KID"), key, env("CF_TENANT"), env("CF_SERVICE"),
		env("CF_TXN"), attributes, time.Duration(lifetime)*time.Second)))
}

func must[T any](value T, err error) T {
	if err != nil {
		fmt.Fprintln(os.Stderr, "sign_rating_token:", err)
		os.Exit(1)
	}
	return value
}
