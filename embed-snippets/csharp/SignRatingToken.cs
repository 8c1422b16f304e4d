// Sign a civic-feedback transaction token (HS256) and build the rating widget's URL.
// .NET 8+, System.Security.Cryptography and System.Text.Json only: no NuGet packages.
// Call RatingToken.Sign on your portal's server when a citizen's transaction ends, and put
// RatingToken.WidgetUrl into the iframe's src. The secret must stay on the server: never
// send it to a browser or put it in a page. (.NET has no built-in Ed25519: use HS256.)
//
// Try it: CF_KID=... CF_SECRET=... CF_TENANT=... CF_SERVICE=... CF_TXN=... dotnet run
// (the other variables: ../README.md)

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

if (Env("CF_PRIVATE_KEY_FILE") != "")
{
    Console.Error.WriteLine("This example signs HS256 only: set CF_SECRET.");
    return 2;
}
var attributes = new Dictionary<string, object>();
foreach (var name in new[] { "office", "operator", "case_opened_at", "case_answered_at" })
{
    string value = Env("CF_" + name.ToUpperInvariant());
    if (value != "")
    {
        attributes[name] = name.StartsWith("case_", StringComparison.Ordinal) ? (object)long.Parse(value) : value;
    }
}
string lifetime = Env("CF_LIFETIME");
Console.WriteLine(RatingToken.Sign(Env("CF_KID"), Env("CF_SECRET"), Env("CF_TENANT"), Env("CF_SERVICE"),
    Env("CF_TXN"), attributes, lifetime == "" ? 3600 : long.Parse(lifetime)));
return 0;

static string Env(string name) => Environment.GetEnvironmentVariable(name) ?? "";

public static class RatingToken
{
    public const string Audience = "civic-feedback:widget";

    /// <summary>A token for one finished transaction. secret: the HS256 secret exactly as you
    /// were given it (not base64-decoded). attributes: optional claims office, operator,
    /// channel (strings), case_opened_at, case_answered_at (longs, seconds since 1970).</summary>
    public static string Sign(string kid, string secret, string tenant, string service,
        string transaction, IReadOnlyDictionary<string, object>? attributes = null, long lifetimeSeconds = 3600)
    {
        if (new[] { kid, secret, tenant, service, transaction }.Any(string.IsNullOrEmpty))
        {
            throw new ArgumentException("kid, secret, tenant, service and transaction are required");
        }
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new Dictionary<string, object>(attributes ?? new Dictionary<string, object>())
        {
            ["iss"] = tenant,
            ["aud"] = Audience,
            ["svc"] = service,
            ["txn"] = transaction,
            ["iat"] = now,
            ["exp"] = now + lifetimeSeconds,
            ["jti"] = Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant(),
        };
        var header = new Dictionary<string, string> { ["alg"] = "HS256", ["kid"] = kid, ["typ"] = "JWT" };
        string input = Base64Url(JsonSerializer.SerializeToUtf8Bytes(header)) + "."
            + Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        byte[] signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(input));
        return input + "." + Base64Url(signature);
    }

    /// <summary>The widget's address for the iframe's src, e.g. collector = "https://feedback.example.gov".</summary>
    public static string WidgetUrl(string collector, string service, string token) =>
        $"{collector.TrimEnd('/')}/w/{Uri.EscapeDataString(service)}?t={token}";

    private static string Base64Url(byte[] data) =>
        Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
