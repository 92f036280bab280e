using Microsoft.Net.Http.Headers;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>Strong ETags made of a row's version (versions start at 1); If-Match compares them strongly.</summary>
public static class ETags
{
    /// <summary>Endpoint metadata: its success answers carry the ETag (the OpenAPI document declares the header).</summary>
    internal sealed class Answered;

    /// <summary>Marks an endpoint whose success answers carry the resource's ETag.</summary>
    public static RouteHandlerBuilder WithETag(this RouteHandlerBuilder builder) => builder.WithMetadata(new Answered());

    public static string For(int version) => $"\"{version}\"";

    /// <summary>
    /// What If-Match accepts: null when the header is absent or holds `*`; otherwise the versions its
    /// strong tags name (RFC 9110: any listed tag may match). Weak or foreign tags name none, so they answer 412.
    /// </summary>
    public static IfMatch? Precondition(HttpRequest request)
    {
        var tags = request.GetTypedHeaders().IfMatch;
        if (tags.Count == 0 || tags.Any(tag => tag.Equals(EntityTagHeaderValue.Any)))
            return null;
        // A weak or foreign tag becomes 0, which no row's version is.
        return new IfMatch([.. tags.Select(tag => !tag.IsWeak && int.TryParse(tag.Tag.AsSpan().Trim('"'), out var version) ? version : 0)]);
    }

    public sealed record IfMatch(int[] Versions)
    {
        public bool Allows(int version) => Versions.Contains(version);
    }
}
