using LstmPort.Host;

const string Usage = """
    lstmport-host: runs PowerShell with the LstmPort module imported.

      lstmport-host -Command '<script>'           run a command string
      lstmport-host -File <script.ps1> [args...]  run a script file with arguments
      lstmport-host ... -Module <LstmPort.psd1>   use this module instead of the built out/LstmPort

    Output is rendered with the module's format views; errors go to stderr.
    Exit code: 0 on success, 1 when the script wrote an error or failed, N for 'exit N'.
    """;

string? command = null, file = null, module = Environment.GetEnvironmentVariable("LSTMPORT_MODULE");
var fileArgs = new List<object>();
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    try
    {
        switch (args[i].ToLowerInvariant())
        {
            case "-command" or "-c": command = Next(); break;
            case "-file" or "-f":
                file = Next();
                fileArgs.AddRange(args[(i + 1)..]);
                i = args.Length;
                break;
            case "-module" or "-m": module = Next(); break;
            case "-help" or "-h" or "--help" or "-?": Console.WriteLine(Usage); return 0;
            default: throw new ArgumentException($"unknown argument '{args[i]}'");
        }
    }
    catch (ArgumentException e) { Console.Error.WriteLine(e.Message); Console.Error.WriteLine(Usage); return 2; }
}
if ((command is null) == (file is null)) { Console.Error.WriteLine(Usage); return 2; }

module ??= FindModule();
if (module is null)
{
    Console.Error.WriteLine("Cannot find out/LstmPort/LstmPort.psd1: build the module first (dotnet build), or pass -Module.");
    return 2;
}

int width = Console.IsOutputRedirected ? 120 : Math.Max(40, Console.WindowWidth);
ScriptRunner runner;
// A relative -Module means relative to here: Import-Module would take a bare relative path for a module name.
try { runner = new ScriptRunner(Path.GetFullPath(module), width, ansi: !Console.IsOutputRedirected); }
catch (InvalidOperationException e) { Console.Error.WriteLine(e.Message); return 1; }
using var _ = runner;
var result = file is null ? runner.Render(command!) : runner.RenderFile(file, fileArgs.ToArray());
Console.Out.Write(result.Text);
Console.Error.Write(result.ErrorText);
if (result.ExitCode is int code) return code;
// 'exit N' inside a script file ends that script and sets $LASTEXITCODE, as under pwsh -File.
if (file is not null && runner.Run("$global:LASTEXITCODE").Output.FirstOrDefault()?.BaseObject is int last && last != 0) return last;
return result.Failed ? 1 : 0;

// The built module sits in out/LstmPort of the repository this host was built in.
static string? FindModule()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "out", "LstmPort", "LstmPort.psd1");
        if (File.Exists(candidate)) return candidate;
    }
    return null;
}
