/** An error in how the simulation was driven (a model bug), as opposed to a user's input error. */
export class SimulationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SimulationError";
  }
}
