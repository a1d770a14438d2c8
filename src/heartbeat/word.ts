// The heartbeat's words: what a node says about itself on the wire (the
// original's three ASCII words), and what status.dat keeps in STATUS and RECEIVER_IN.
export type Word = 'ONLINE' | 'OFFLINE' | 'PROGRESS';
export const WORDS: readonly Word[] = ['ONLINE', 'OFFLINE', 'PROGRESS'];
