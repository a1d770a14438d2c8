#!/usr/bin/env node
import '../dist/src/resources/ndp-tool.js';
