namespace LstmPort;

public enum Direction { Forward, Backward }
