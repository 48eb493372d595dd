/**
 * Every AWS API action prescale calls, as IAM action names. `deploy/iam-policy.json` grants exactly these; the
 * moto tests record the commands the code really sends and fail when one is missing here (or listed but never
 * used), so the policy stays least-privilege and complete.
 */
export const AWS_ACTIONS_USED = [
  'application-autoscaling:DescribeScalableTargets',
  'application-autoscaling:RegisterScalableTarget',
  'application-autoscaling:DescribeScheduledActions',
  'application-autoscaling:PutScheduledAction',
  'application-autoscaling:DeleteScheduledAction',
  'cloudwatch:GetMetricData',
] as const;

export type AwsAction = (typeof AWS_ACTIONS_USED)[number];

/**
 * Registering a Lambda scalable target for the first time makes Application Auto Scaling create its
 * service-linked role; the caller needs this permission once (AWS documents it for RegisterScalableTarget).
 */
export const AWS_SERVICE_LINKED_ROLE_ACTION = 'iam:CreateServiceLinkedRole';
