namespace CampaignSlices.Api.Infrastructure;

public static class RequestLimits
{
    /// <summary>1 MiB for every JSON body; dataset import raises it for its own endpoint.</summary>
    public const long JsonBodyBytes = 1024 * 1024;
}
