/** Authentication: the JWT verifier and the global guard (registered as APP_GUARD in AppModule). */
import { Module } from '@nestjs/common';
import { AuthController } from 'src/auth/auth.controller';
import { AuthGuard } from 'src/auth/auth.guard';
import { JwtVerifier } from 'src/auth/jwt-verifier.service';

@Module({
  controllers: [AuthController],
  providers: [JwtVerifier, AuthGuard],
  exports: [JwtVerifier, AuthGuard],
})
export class AuthModule {}
