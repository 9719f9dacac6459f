using System.Text;
using System.Text.RegularExpressions;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>One axe-core rule that failed, with the elements it failed on.</summary>
/// <param name="RuleId">axe's rule id, e.g. <c>label</c>, <c>color-contrast</c>, <c>button-name</c>.</param>
/// <param name="Impact">minor, moderate, serious or critical.</param>
/// <param name="Help">axe's one-line description of the rule.</param>
/// <param name="Targets">CSS selectors of the failing elements.</param>
public sealed record AccessibilityViolation(string RuleId, string Impact, string Help, IReadOnlyList<string> Targets)
{
    public override string ToString() => $"{RuleId} ({Impact}): {Help} at {string.Join(", ", Targets)}";
}

/// <summary>
/// axe-core checks through Deque.AxeCore.Playwright: the package carries axe.min.js and injects it into the page;
/// nothing is fetched at test time.
/// </summary>
public static class Accessibility
{
    /// <summary>The impacts that fail <see cref="AssertNoSeriousViolationsAsync"/>.</summary>
    public static readonly IReadOnlySet<string> SeriousImpacts = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "serious", "critical" };

    /// <summary>Runs axe-core on the page (or only inside <paramref name="selector"/>) and returns every violation, whatever its impact.</summary>
    public static async Task<IReadOnlyList<AccessibilityViolation>> AnalyzeAsync(IPage page, string? selector = null)
    {
        var result = selector is null ? await page.RunAxe() : await page.Locator(selector).RunAxe();
        return [.. result.Violations.Select(violation => new AccessibilityViolation(
            violation.Id,
            violation.Impact ?? "unknown",
            violation.Help,
            [.. violation.Nodes.Select(node => node.Target?.ToString() ?? node.Html)]))];
    }

    /// <summary>The violations of impact serious or critical.</summary>
    public static async Task<IReadOnlyList<AccessibilityViolation>> SeriousViolationsAsync(IPage page, string? selector = null) =>
        [.. (await AnalyzeAsync(page, selector)).Where(violation => SeriousImpacts.Contains(violation.Impact))];

    /// <summary>Fails, listing rule ids, impacts and target selectors, when axe-core finds a serious or critical violation.</summary>
    public static async Task AssertNoSeriousViolationsAsync(IPage page, string? selector = null)
    {
        var violations = await SeriousViolationsAsync(page, selector);
        if (violations.Count > 0)
        {
            Assert.Fail(Describe(page.Url, violations));
        }
    }

    /// <summary>The failure message <see cref="AssertNoSeriousViolationsAsync"/> gives.</summary>
    public static string Describe(string url, IReadOnlyList<AccessibilityViolation> violations)
    {
        var message = new StringBuilder($"axe-core found {violations.Count} serious or critical accessibility violation(s) on {url}:");
        foreach (var violation in violations)
        {
            message.Append("\n  ").Append(violation.RuleId).Append(" (").Append(violation.Impact).Append("): ").Append(violation.Help);
            foreach (var target in violation.Targets)
            {
                message.Append("\n    at ").Append(target);
            }
        }

        return message.ToString();
    }
}

/// <summary>The element that has the keyboard focus, as assistive technology names it.</summary>
/// <param name="Role">The ARIA role Playwright computes (link, button, textbox, combobox...); "document" when nothing is focused.</param>
/// <param name="Name">The accessible name ("" when it has none).</param>
/// <param name="TagName">The element's tag in lower case.</param>
/// <param name="Id">Its id attribute, if any.</param>
public sealed record FocusedElement(string Role, string Name, string TagName, string? Id);

/// <summary>A form control that has no accessible name (no label, aria-label, aria-labelledby or title).</summary>
public sealed record UnlabelledControl(string TagName, string? Type, string? Id, string? Name);

/// <summary>Keyboard navigation and form-label checks.</summary>
public static partial class KeyboardNavigation
{
    /// <summary>Presses Tab <paramref name="times"/> times (Shift+Tab when <paramref name="backwards"/>) and returns what is focused then.</summary>
    public static async Task<FocusedElement> TabAsync(IPage page, int times = 1, bool backwards = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(times);
        for (var i = 0; i < times; i++)
        {
            await page.Keyboard.PressAsync(backwards ? "Shift+Tab" : "Tab");
        }

        return await FocusedAsync(page);
    }

    /// <summary>Presses Tab until the focused element matches, and returns the focus order walked (fails after <paramref name="limit"/> presses).</summary>
    public static async Task<IReadOnlyList<FocusedElement>> TabUntilAsync(IPage page, Func<FocusedElement, bool> reached, int limit = 50)
    {
        var walked = new List<FocusedElement>();
        for (var i = 0; i < limit; i++)
        {
            var focused = await TabAsync(page);
            walked.Add(focused);
            if (reached(focused))
            {
                return walked;
            }
        }

        Assert.Fail($"Not reached with {limit} Tab presses on {page.Url}; the focus went through: " +
            string.Join(" → ", walked.Select(element => $"{element.Role} \"{element.Name}\"")));
        return walked;
    }

    /// <summary>The focused element's role and accessible name (from Playwright's ARIA snapshot), tag and id.</summary>
    public static async Task<FocusedElement> FocusedAsync(IPage page)
    {
        // [tag, id], or nothing when the focus is on the document itself.
        var element = await page.EvaluateAsync<string[]?>("""
            () => {
              const active = document.activeElement;
              if (!active || active === document.body || active === document.documentElement) return null;
              return [active.tagName.toLowerCase(), active.id];
            }
            """);
        if (element is null)
        {
            return new FocusedElement("document", "", "body", null);
        }

        var snapshot = await page.Locator("*:focus").First.AriaSnapshotAsync();
        var (role, name) = ParseAriaLine(snapshot);
        return new FocusedElement(role, name, element[0], string.IsNullOrEmpty(element[1]) ? null : element[1]);
    }

    /// <summary>Every visible input (but hidden, submit, button, reset, image), select and textarea that has no accessible name.</summary>
    public static async Task<IReadOnlyList<UnlabelledControl>> UnlabelledControlsAsync(IPage page)
    {
        var controls = page.Locator(
            "input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset]):not([type=image]), select, textarea");
        var unlabelled = new List<UnlabelledControl>();
        foreach (var control in await controls.AllAsync())
        {
            if (!await control.IsVisibleAsync())
            {
                continue;
            }

            var (_, name) = ParseAriaLine(await control.AriaSnapshotAsync());
            if (string.IsNullOrWhiteSpace(name))
            {
                unlabelled.Add(new UnlabelledControl(
                    await control.EvaluateAsync<string>("e => e.tagName.toLowerCase()"),
                    await control.GetAttributeAsync("type"),
                    await control.GetAttributeAsync("id"),
                    await control.GetAttributeAsync("name")));
            }
        }

        return unlabelled;
    }

    /// <summary>Fails, naming each control, when a visible form control has no accessible name.</summary>
    public static async Task AssertFormControlsLabelledAsync(IPage page)
    {
        var unlabelled = await UnlabelledControlsAsync(page);
        Assert.True(unlabelled.Count == 0, $"Form controls without a label on {page.Url}: " + string.Join(", ", unlabelled.Select(control =>
            $"<{control.TagName} type={control.Type ?? "-"} id={control.Id ?? "-"} name={control.Name ?? "-"}>")));
    }

    /// <summary>The role and name of the first line of an ARIA snapshot: <c>- textbox "Filter": value</c> gives (textbox, Filter).</summary>
    public static (string Role, string Name) ParseAriaLine(string snapshot)
    {
        var firstLine = snapshot.Split('\n', 2)[0];
        var match = AriaLine().Match(firstLine);
        if (!match.Success)
        {
            return (firstLine.Trim().TrimStart('-').Trim(), "");
        }

        var name = match.Groups["name"].Success ? Regex.Unescape(match.Groups["name"].Value) : "";
        return (match.Groups["role"].Value, name);
    }

    [GeneratedRegex("""^\s*-\s+(?<role>[\w-]+)(?:\s+"(?<name>(?:[^"\\]|\\.)*)")?""")]
    private static partial Regex AriaLine();
}
