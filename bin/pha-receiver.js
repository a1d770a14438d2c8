#!/usr/bin/env node
import '../dist/src/receiver/main.js';
