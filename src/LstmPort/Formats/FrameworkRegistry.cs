using System.Runtime.CompilerServices;
using LstmPort.Conversion;
using LstmPort.Frameworks.Keras;
using LstmPort.Frameworks.TensorFlow;
using LstmPort.Frameworks.Torch;

namespace LstmPort.Formats;

/// <summary>
/// Where the frameworks plug into the layers that must not know them: each registers its reference
/// maths here, when the engine loads. A new framework adds its line.
/// </summary>
static class FrameworkRegistry
{
    [ModuleInitializer]
    internal static void Register()
    {
        LayoutMaths.Register(new KerasMaths());
        LayoutMaths.Register(new TorchMaths());
        LayoutMaths.Register(new Tf1Maths());
    }
}
