export async function main(): Promise<void> {
  process.stdout.write('audiences: not implemented yet\n');
}
