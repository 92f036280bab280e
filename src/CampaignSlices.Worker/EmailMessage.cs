// The mail of one email lease: the step's template with the lead's values, from the lead's alias, marked with the campaign,
// the action and the attempt. Its Message-Id is made of the action and the attempt, so a mail sent again after a crash
// carries the same id and the receiving side can tell it is the same mail.
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using MimeKit;

namespace CampaignSlices.Worker;

public static partial class EmailMessage
{
    /// <summary>Longest subject taken from the body's first line (a header line's recommended length).</summary>
    private const int SubjectLength = 78;

    /// <summary>The mail, or why it cannot be made (no address for the lead, no alias, an address that does not parse).</summary>
    public static (MimeMessage? Message, string? Problem) Build(Lease lease, string fromDomain)
    {
        if (string.IsNullOrWhiteSpace(lease.Lead.Email) || !MailboxAddress.TryParse(lease.Lead.Email.Trim(), out var to))
            return (null, "the lead has no valid email address");
        if (string.IsNullOrWhiteSpace(lease.Sender.AliasId) || !MailboxAddress.TryParse($"{lease.Sender.AliasId}@{fromDomain}", out var from))
            return (null, $"the sender alias '{lease.Sender.AliasId}' does not make an address at {fromDomain}");
        var body = Body(lease, from.Address);
        var message = new MimeMessage
        {
            Subject = Subject(body, lease.Step),
            MessageId = $"{lease.ActionId}.{lease.Attempt}@{fromDomain}",
            Body = new TextPart("plain") { Text = body },
        };
        message.From.Add(from);
        message.To.Add(to);
        message.Headers.Add("X-Campaign-Id", lease.CampaignId.ToString());
        message.Headers.Add("X-Action-Id", lease.ActionId.ToString());
        message.Headers.Add("X-Attempt", lease.Attempt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return (message, null);
    }

    /// <summary>
    /// The step's template with each <c>{{column}}</c> replaced by the lead's value (empty when the row has none); for a
    /// variant without a template, a plain text naming the variant and its template_id. The campaign's signature follows.
    /// </summary>
    public static string Body(Lease lease, string senderAddress)
    {
        var text = lease.MessageTemplate is { } template
            ? Placeholder().Replace(template, match => Value(lease.Lead, match.Groups["name"].Value))
            : lease.Variant is { } variant
                ? $"Variant {variant.Label} ({variant.Type}), template {variant.TemplateId?.ToString() ?? "none"}."
                : $"Step {lease.Step}.";
        return lease.Settings.Signature is { } signature ? $"{text}\n\n-- \n{Signature(signature, lease, senderAddress)}" : text;
    }

    /// <summary>The known columns by their names, then the dataset's own columns by their headers, exactly as written.</summary>
    public static string Value(LeadRow lead, string column)
    {
        var known = column switch
        {
            "email" => lead.Email,
            "first_name" => lead.FirstName,
            "last_name" => lead.LastName,
            "company" => lead.Company,
            "linkedin_url" => lead.LinkedinUrl,
            "phone" => lead.Phone,
            _ => null,
        };
        if (known is not null)
            return known.Trim();
        return lead.Attributes?[column] switch
        {
            null => "",
            JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>().Trim(),
            JsonNode other => other.ToJsonString(),
        };
    }

    /// <summary>The lead's first name and the sender's address; the worker knows no sender names, so those placeholders are left empty.</summary>
    private static string Signature(string signature, Lease lease, string senderAddress) => signature
        .Replace("%first_name%", lease.Lead.FirstName?.Trim() ?? "", StringComparison.Ordinal)
        .Replace("%sender_email%", senderAddress, StringComparison.Ordinal)
        .Replace("%sender_first_name%", "", StringComparison.Ordinal)
        .Replace("%sender_last_name%", "", StringComparison.Ordinal);

    private static string Subject(string body, int step)
    {
        var firstLine = body.Split('\n', 2)[0].Trim();
        if (firstLine.Length == 0)
            return $"Step {step}";
        return firstLine.Length <= SubjectLength ? firstLine : firstLine[..(SubjectLength - 1)] + "…";
    }

    [GeneratedRegex(@"\{\{\s*(?<name>[^{}]+?)\s*\}\}")]
    private static partial Regex Placeholder();
}
