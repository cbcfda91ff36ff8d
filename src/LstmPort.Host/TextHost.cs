using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;

namespace LstmPort.Host;

/// <summary>
/// A non-interactive PowerShell host that writes everything it is given to text writers: output
/// (including what Out-Default renders through the module's format views) to one, errors,
/// warnings and verbose lines to another. Used by the console and by the test harness.
/// </summary>
public sealed partial class TextHost : PSHost
{
    readonly TextUI _ui;
    readonly Guid _id = Guid.NewGuid();

    /// <param name="ansi">Keep ANSI colour sequences (writing to a terminal); otherwise they are removed.</param>
    public TextHost(TextWriter output, TextWriter errors, int width = 120, bool ansi = false) =>
        _ui = new TextUI(ansi ? output : new PlainWriter(output), ansi ? errors : new PlainWriter(errors), width, ansi);

    /// <summary>The code a script asked for with <c>exit N</c>, if it did.</summary>
    public int? ExitCode { get; private set; }

    public override string Name => "LstmPort.Host";
    public override Version Version => typeof(TextHost).Assembly.GetName().Version ?? new Version(0, 0);
    public override Guid InstanceId => _id;
    public override PSHostUserInterface UI => _ui;
    public override CultureInfo CurrentCulture => CultureInfo.InvariantCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.GetCultureInfo("en-US");
    public override void SetShouldExit(int exitCode) => ExitCode = exitCode;
    public override void EnterNestedPrompt() => throw new NotSupportedException("this host is not interactive");
    public override void ExitNestedPrompt() => throw new NotSupportedException("this host is not interactive");
    public override void NotifyBeginApplication() { }
    public override void NotifyEndApplication() { }

    sealed class TextUI(TextWriter output, TextWriter errors, int width, bool ansi) : PSHostUserInterface
    {
        readonly RawUI _raw = new(width);
        public override PSHostRawUserInterface RawUI => _raw;
        public override bool SupportsVirtualTerminal => ansi;
        public override void Write(string value) => output.Write(value);
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => output.Write(value);
        public override void WriteLine(string value) => output.WriteLine(value);
        public override void WriteErrorLine(string value) => errors.WriteLine(value);
        public override void WriteWarningLine(string message) => errors.WriteLine("WARNING: " + message);
        public override void WriteVerboseLine(string message) => errors.WriteLine("VERBOSE: " + message);
        public override void WriteDebugLine(string message) => errors.WriteLine("DEBUG: " + message);
        public override void WriteInformation(InformationRecord record) => output.WriteLine(record.MessageData?.ToString());
        public override void WriteProgress(long sourceId, ProgressRecord record) { }
        public override string ReadLine() => throw NotInteractive();
        public override SecureString ReadLineAsSecureString() => throw NotInteractive();
        public override Dictionary<string, PSObject> Prompt(string caption, string message, System.Collections.ObjectModel.Collection<FieldDescription> descriptions) => throw NotInteractive();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw NotInteractive();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw NotInteractive();
        public override int PromptForChoice(string caption, string message, System.Collections.ObjectModel.Collection<ChoiceDescription> choices, int defaultChoice) => throw NotInteractive();
        static PSInvalidOperationException NotInteractive() => new("This host is not interactive: it cannot prompt (use -Force or -Confirm:$false in scripts).");
    }

    /// <summary>Removes ANSI escape sequences: a custom host must do what the console host does for redirected output.</summary>
    sealed partial class PlainWriter(TextWriter inner) : TextWriter
    {
        [System.Text.RegularExpressions.GeneratedRegex(@"\x1b\[[0-9;?]*[ -/]*[@-~]")]
        private static partial System.Text.RegularExpressions.Regex Ansi();
        public override System.Text.Encoding Encoding => inner.Encoding;
        public override void Write(char value) => inner.Write(value);
        public override void Write(string? value) => inner.Write(value is null ? null : Ansi().Replace(value, ""));
        public override void WriteLine(string? value) => inner.WriteLine(value is null ? null : Ansi().Replace(value, ""));
    }

    sealed class RawUI(int width) : PSHostRawUserInterface
    {
        public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
        public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; }
        public override Size BufferSize { get; set; } = new(width, 9999);
        public override Size WindowSize { get; set; } = new(width, 50);
        public override Coordinates WindowPosition { get; set; }
        public override Size MaxWindowSize => new(width, 50);
        public override Size MaxPhysicalWindowSize => new(width, 50);
        public override bool KeyAvailable => false;
        public override string WindowTitle { get; set; } = "LstmPort";
        public override void FlushInputBuffer() { }
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException("this host is not interactive");
        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => new BufferCell[0, 0];
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) { }
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) { }
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) { }
    }
}
