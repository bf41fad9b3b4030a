/** flowgrad/models: the paper's 2-D densities and DLGMs with flow posteriors (see issue 5). */
export {};
