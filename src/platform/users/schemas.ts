// Request bodies as the server checks them: the contract's (src/contract/users.ts), with a new
// password also checked against the list of common passwords (kept out of the browser bundle).
import { credentialsBody, createUserBody, password } from '../../contract/users.ts';
import { passwordProblem } from '../auth/passwords.ts';

const newPassword = password.superRefine((value, ctx) => {
  const problem = passwordProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

export const signupBody = credentialsBody.extend({ password: newPassword });
export const newUserBody = createUserBody.extend({ password: newPassword.optional() });
