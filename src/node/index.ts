/** flowgrad/node: the Node-only parts — atomic file output, PNG writing, the MNIST loader. */
export { prepareOutputDir, prepareOutputFile, UserError, writeFileAtomic, writeJsonAtomic, writePng } from "./io.js";
export { loadMnist, type Mnist, type MnistSplit, PIXELS } from "./mnist.js";
export { checkModelInputs, loadVAE, loadVAEFile, saveVAE, type VAEFile } from "./model-files.js";
