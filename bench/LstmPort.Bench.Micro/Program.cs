using BenchmarkDotNet.Running;

// Release only: dotnet run -c Release --project bench/LstmPort.Bench.Micro -- --filter '*'
// LSTMPORT_BENCH_MB sets the size of the generated Keras file (default 64).
BenchmarkSwitcher.FromAssembly(typeof(LstmPort.Bench.Micro.StageBenchmarks).Assembly).Run(args);
