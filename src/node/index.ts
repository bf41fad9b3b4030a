/** flowgrad/node: the Node-only parts — atomic file output, PNG writing, the MNIST loader. */
export { writeFileAtomic, writeJsonAtomic, writePng, prepareOutputDir, prepareOutputFile, UserError } from "./io.js";
export { loadMnist, PIXELS, type Mnist, type MnistSplit } from "./mnist.js";
export { saveVAE, loadVAE, loadVAEFile, checkModelInputs, type VAEFile } from "./model-files.js";
