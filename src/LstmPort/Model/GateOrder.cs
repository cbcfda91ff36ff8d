namespace LstmPort;

/// <summary>Gate order of the packed gate axis; None for tensors without gates.</summary>
public enum GateOrder { None, IFCO, IJFO, IFGO, IOFC, ZRH, RZN, RU }
