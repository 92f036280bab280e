// Signatures in the Standard Webhooks form, so a receiver can check them with any of its libraries.
using System.Security.Cryptography;
using System.Text;

namespace CampaignSlices.Api.Webhooks;

public static class WebhookSignature
{
    public const string IdHeader = "webhook-id";
    public const string TimestampHeader = "webhook-timestamp";
    public const string SignatureHeader = "webhook-signature";
    public const string SecretPrefix = "whsec_";
    private const int SecretBytes = 32;

    /// <summary>A new secret: `whsec_` and the base64 of 32 random bytes.</summary>
    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes));

    /// <summary>
    /// The webhook-signature value: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`
    /// under each secret's decoded bytes, space-separated.
    /// </summary>
    public static string Sign(string id, long timestamp, string body, IEnumerable<string> secrets)
    {
        var content = Encoding.UTF8.GetBytes($"{id}.{timestamp}.{body}");
        return string.Join(' ', secrets.Select(secret =>
            "v1," + Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(secret[SecretPrefix.Length..]), content))));
    }
}
