/** Courier's version, printed by --version and /server_info. Kept equal to package.json's. */
export const VERSION = '0.1.0';
