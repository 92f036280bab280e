using Microsoft.Net.Http.Headers;

namespace CampaignSlices.Api.Infrastructure;

/// <summary>Strong ETags made of a row's version; If-Match compares them strongly.</summary>
public static class ETags
{
    /// <summary>Versions start at 1, so an If-Match naming anything else never matches and answers 412.</summary>
    private const int NoVersion = 0;

    /// <summary>Endpoint metadata: its success answers carry the ETag (the OpenAPI document declares the header).</summary>
    internal sealed class Answered;

    /// <summary>Marks an endpoint whose success answers carry the resource's ETag.</summary>
    public static RouteHandlerBuilder WithETag(this RouteHandlerBuilder builder) => builder.WithMetadata(new Answered());

    public static string For(int version) => $"\"{version}\"";

    /// <summary>The version If-Match demands; null when the header is absent or `*`.</summary>
    public static int? ExpectedVersion(HttpRequest request)
    {
        var ifMatch = request.GetTypedHeaders().IfMatch;
        if (ifMatch.Count == 0 || ifMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any)))
            return null;
        var tag = ifMatch[0];
        return ifMatch.Count == 1 && !tag.IsWeak && int.TryParse(tag.Tag.AsSpan().Trim('"'), out var version) && version > 0
            ? version
            : NoVersion;
    }
}
